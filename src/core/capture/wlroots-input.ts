import { runCommand } from '../exec/run-command';
import { EVDEV_KEYS } from '../input/evdev-codes';
import type { KeyName } from '../input/keymap';
import type { DesktopInput } from './desktop-capture';
import { GET_OUTPUTS, type SwayIpc } from './sway-ipc';
import type { VirtualPointer } from './wayland-virtual-pointer';

/** xkb keysym names of the keys a peer may press (wtype resolves them through libxkbcommon). */
const KEYSYMS: Record<string, string> = {
  Escape: 'Escape', Enter: 'Return', Return: 'Return', Tab: 'Tab', Space: 'space', Backspace: 'BackSpace', Delete: 'Delete', Insert: 'Insert',
  Home: 'Home', End: 'End', PageUp: 'Prior', PageDown: 'Next', Left: 'Left', Right: 'Right', Up: 'Up', Down: 'Down',
  Minus: 'minus', Equal: 'equal', LeftBracket: 'bracketleft', RightBracket: 'bracketright', Backslash: 'backslash', Semicolon: 'semicolon',
  Quote: 'apostrophe', Comma: 'comma', Period: 'period', Slash: 'slash', Grave: 'grave',
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`F${i + 1}`, `F${i + 1}`])),
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`Num${i}`, String(i)])),
  ...Object.fromEntries('ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('').map((k) => [k, k.toLowerCase()])),
};
const MODIFIERS: Record<number, 'shift' | 'ctrl' | 'alt'> = { 42: 'shift', 54: 'shift', 29: 'ctrl', 97: 'ctrl', 56: 'alt', 100: 'alt' };
const KEY_BY_CODE = new Map<number, KeyName>([...EVDEV_KEYS].map(([name, code]) => [code, name]));

export interface SwayOutput {
  name: string;
  rect: { x: number; y: number; width: number; height: number };
}

/** The output to capture and point into: the named one, else the focused, else the first active one. */
export async function swayOutput(ipc: SwayIpc, name?: string): Promise<SwayOutput> {
  const outputs = (await ipc.request(GET_OUTPUTS)) as Array<SwayOutput & { active: boolean; focused: boolean }>;
  const active = outputs.filter((output) => output.active);
  const found = name ? active.find((output) => output.name === name) : (active.find((output) => output.focused) ?? active[0]);
  if (!found) throw new Error(name ? `sway has no active output ${name} (it has ${active.map((o) => o.name).join(', ') || 'none'})` : 'sway has no active output');
  return { name: found.name, rect: found.rect };
}

/**
 * Input into a wlroots compositor: the pointer through our own virtual pointer (wlr-virtual-pointer),
 * keys through `wtype` (the virtual-keyboard protocol needs the keymap passed as a file descriptor, which
 * Node cannot send). A wtype run ends with the keys it pressed released, so a key is pressed and released
 * at once, with the modifiers held at that moment around it: typing and shortcuts work, holding a key
 * down (a game's W) does not.
 */
export function wlrootsInput(pointer: VirtualPointer, desktop: { width: number; height: number }, env: NodeJS.ProcessEnv): DesktopInput {
  const held = new Set<'shift' | 'ctrl' | 'alt'>();
  return {
    pointerMotionAbsolute: async (x, y) => pointer.moveTo(x, y, desktop.width, desktop.height),
    pointerButton: async (button, pressed) => pointer.button(button, pressed),
    pointerAxisDiscrete: async (axis, steps) => pointer.wheel(axis, steps),
    keyboardKeycode: async (code, pressed) => {
      const modifier = MODIFIERS[code];
      if (modifier) {
        if (pressed) held.add(modifier);
        else held.delete(modifier);
        return;
      }
      if (!pressed) return;
      const keysym = KEYSYMS[KEY_BY_CODE.get(code) ?? ''];
      if (!keysym) throw new Error(`no key for code ${code}`);
      const mods = [...held];
      const result = await runCommand('wtype', [...mods.flatMap((m) => ['-M', m]), '-k', keysym, ...mods.flatMap((m) => ['-m', m])], { env, timeoutMs: 3000 });
      if (result.spawnError) throw new Error('wtype is not installed: keys cannot reach a wlroots desktop without it (Debian: apt-get install wtype)');
      if (result.code !== 0) throw new Error(`wtype failed: ${result.stderr.trim().slice(0, 200)}`);
    },
  };
}
