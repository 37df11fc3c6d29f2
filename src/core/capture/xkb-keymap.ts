/**
 * A keyboard's keymap and state through libxkbcommon (koffi), as a Wayland keyboard needs them: the
 * keymap as text to hand to the compositor, and after each key the modifier and layout state to report
 * with it (a virtual keyboard reports its own modifiers; the compositor does not work them out).
 * libxkbcommon is there wherever a Wayland compositor is.
 */
import { createRequire } from 'node:module';

const XKB_KEYMAP_FORMAT_TEXT_V1 = 1;
const XKB_STATE_MODS_DEPRESSED = 1 << 0;
const XKB_STATE_MODS_LATCHED = 1 << 1;
const XKB_STATE_MODS_LOCKED = 1 << 2;
const XKB_STATE_LAYOUT_EFFECTIVE = 1 << 7;
/** xkb keycodes are evdev codes plus 8 (the X11 offset). */
const EVDEV_OFFSET = 8;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

interface Xkb {
  contextNew: Native;
  contextUnref: Native;
  keymapNewFromNames: Native;
  keymapUnref: Native;
  keymapAsString: Native;
  stateNew: Native;
  stateUnref: Native;
  updateKey: Native;
  serializeMods: Native;
  serializeLayout: Native;
  free: Native;
  decodeString(pointer: unknown): string;
}

let xkb: Xkb | string | undefined;

function loadXkb(): Xkb {
  if (xkb === undefined) {
    try {
      const koffi = createRequire(import.meta.url)('koffi') as { load(path: string | null): { func(signature: string): Native }; decode(pointer: unknown, type: string, length: number): string };
      const lib = koffi.load('libxkbcommon.so.0');
      xkb = {
        contextNew: lib.func('void *xkb_context_new(int flags)'),
        contextUnref: lib.func('void xkb_context_unref(void *context)'),
        keymapNewFromNames: lib.func('void *xkb_keymap_new_from_names(void *context, void *names, int flags)'),
        keymapUnref: lib.func('void xkb_keymap_unref(void *keymap)'),
        keymapAsString: lib.func('void *xkb_keymap_get_as_string(void *keymap, int format)'),
        stateNew: lib.func('void *xkb_state_new(void *keymap)'),
        stateUnref: lib.func('void xkb_state_unref(void *state)'),
        updateKey: lib.func('int xkb_state_update_key(void *state, uint32_t key, int direction)'),
        serializeMods: lib.func('uint32_t xkb_state_serialize_mods(void *state, int components)'),
        serializeLayout: lib.func('uint32_t xkb_state_serialize_layout(void *state, int components)'),
        free: koffi.load(null).func('void free(void *pointer)'),
        decodeString: (pointer) => koffi.decode(pointer, 'char', -1),
      };
    } catch (error) {
      xkb = `libxkbcommon is not loadable (${error instanceof Error ? error.message : String(error)}); Debian: apt-get install libxkbcommon0`;
    }
  }
  if (typeof xkb === 'string') throw new Error(xkb);
  return xkb;
}

export interface Modifiers {
  depressed: number;
  latched: number;
  locked: number;
  group: number;
}

export class XkbKeyboard {
  private closed = false;
  private last: Modifiers;

  private constructor(private readonly lib: Xkb, private readonly context: unknown, private readonly keymap: unknown, private readonly state: unknown, readonly keymapText: string) {
    this.last = this.modifiers();
  }

  /**
   * The keymap libxkbcommon builds from its defaults: the XKB_DEFAULT_LAYOUT (…RULES, MODEL, VARIANT,
   * OPTIONS) of the environment it runs in, else evdev rules with the us layout.
   */
  static fromDefaults(): XkbKeyboard {
    const lib = loadXkb();
    const context = lib.contextNew(0);
    if (!context) throw new Error('libxkbcommon could not make a context');
    const keymap = lib.keymapNewFromNames(context, null, 0);
    if (!keymap) {
      lib.contextUnref(context);
      throw new Error('libxkbcommon could not build a keymap from its defaults (check XKB_DEFAULT_LAYOUT)');
    }
    const text = lib.keymapAsString(keymap, XKB_KEYMAP_FORMAT_TEXT_V1);
    const keymapText = text ? lib.decodeString(text) : '';
    if (text) lib.free(text);
    const state = keymapText ? lib.stateNew(keymap) : null;
    if (!state) {
      lib.keymapUnref(keymap);
      lib.contextUnref(context);
      throw new Error('libxkbcommon could not write out its keymap');
    }
    return new XkbKeyboard(lib, context, keymap, state, keymapText);
  }

  private modifiers(): Modifiers {
    return {
      depressed: this.lib.serializeMods(this.state, XKB_STATE_MODS_DEPRESSED) as number,
      latched: this.lib.serializeMods(this.state, XKB_STATE_MODS_LATCHED) as number,
      locked: this.lib.serializeMods(this.state, XKB_STATE_MODS_LOCKED) as number,
      group: this.lib.serializeLayout(this.state, XKB_STATE_LAYOUT_EFFECTIVE) as number,
    };
  }

  /** Feeds a key (an evdev code) to the state; returns the modifiers when they changed, else null. */
  key(code: number, pressed: boolean): Modifiers | null {
    if (this.closed) throw new Error('the keyboard state is closed');
    this.lib.updateKey(this.state, code + EVDEV_OFFSET, pressed ? 1 : 0);
    const now = this.modifiers();
    const before = this.last;
    this.last = now;
    return now.depressed !== before.depressed || now.latched !== before.latched || now.locked !== before.locked || now.group !== before.group ? now : null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lib.stateUnref(this.state);
    this.lib.keymapUnref(this.keymap);
    this.lib.contextUnref(this.context);
  }
}
