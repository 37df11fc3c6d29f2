import type { DesktopInput } from './desktop-capture';
import { GET_OUTPUTS, type SwayIpc } from './sway-ipc';
import type { VirtualKeyboard } from './wayland-virtual-keyboard';
import type { VirtualPointer } from './wayland-virtual-pointer';

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
 * Input into a wlroots compositor through a virtual pointer (wlr-virtual-pointer) and a virtual keyboard
 * (virtual-keyboard-unstable-v1) of our own, both held for the session: keys go down and up as the
 * peer's do, with the modifier state libxkbcommon works out.
 */
export function wlrootsInput(pointer: VirtualPointer, keyboard: VirtualKeyboard, desktop: { width: number; height: number }): DesktopInput {
  return {
    pointerMotionAbsolute: async (x, y) => pointer.moveTo(x, y, desktop.width, desktop.height),
    pointerButton: async (button, pressed) => pointer.button(button, pressed),
    pointerAxisDiscrete: async (axis, steps) => pointer.wheel(axis, steps),
    keyboardKeycode: async (code, pressed) => keyboard.key(code, pressed),
  };
}
