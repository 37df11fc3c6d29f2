import type { DesktopInput } from '../capture/desktop-capture';
import { EVDEV_BUTTONS, EVDEV_KEYS } from './evdev-codes';
import type { InputBackend } from './injector';
import type { KeyName } from './keymap';

function code(name: KeyName): number {
  const found = EVDEV_KEYS.get(name);
  if (found === undefined) throw new Error(`no key ${name}`);
  return found;
}

/** Wayland input (portal or Mutter RemoteDesktop) as an InputBackend: keys as evdev codes, the pointer in the picture's pixels. */
export function desktopInputBackend(input: DesktopInput): InputBackend {
  return {
    keyDown: async (names) => {
      for (const name of names) await input.keyboardKeycode(code(name), true);
    },
    keyUp: async (names) => {
      for (const name of names) await input.keyboardKeycode(code(name), false);
    },
    move: (x, y) => input.pointerMotionAbsolute(x, y),
    button: (button, down) => input.pointerButton(EVDEV_BUTTONS[button], down),
    wheel: async (dx, dy) => {
      if (dy !== 0) await input.pointerAxisDiscrete(0, Math.round(dy));
      if (dx !== 0) await input.pointerAxisDiscrete(1, Math.round(dx));
    },
  };
}

/**
 * Where a peer's input goes on this desktop: into the input of the running Wayland capture session
 * (one approval covers the picture and the input), or through XTest (nut-js) on an X11 session. On
 * Wayland with no such session, input is refused with what to do, never sent to XWayland by mistake.
 */
export class DesktopInputRouter {
  private current: InputBackend | null = null;
  private nut: Promise<InputBackend> | null = null;

  constructor(
    private readonly wayland: () => boolean,
    private readonly nutBackend: () => Promise<InputBackend>,
  ) {}

  /** The running capture's input (null when it ends). */
  use(input: DesktopInput | null): void {
    this.current = input ? desktopInputBackend(input) : null;
  }

  private async target(): Promise<InputBackend> {
    if (this.current) return this.current;
    if (this.wayland()) throw new Error('no Wayland input open: input goes through a running portal or gnome session whose peer has the input scope');
    this.nut ??= this.nutBackend();
    return this.nut;
  }

  backend(): InputBackend {
    return {
      keyDown: async (keys) => (await this.target()).keyDown(keys),
      keyUp: async (keys) => (await this.target()).keyUp(keys),
      move: async (x, y) => (await this.target()).move(x, y),
      button: async (button, down) => (await this.target()).button(button, down),
      wheel: async (dx, dy) => (await this.target()).wheel(dx, dy),
    };
  }
}
