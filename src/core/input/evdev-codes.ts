import type { KeyName } from './keymap';

/** Linux evdev key codes (linux/input-event-codes.h) of the key names a peer may press: Wayland's input APIs take these. */
const LETTERS = 'QWERTYUIOP'.split('').map((k, i) => [k, 16 + i] as const)
  .concat('ASDFGHJKL'.split('').map((k, i) => [k, 30 + i] as const))
  .concat('ZXCVBNM'.split('').map((k, i) => [k, 44 + i] as const));

export const EVDEV_KEYS: ReadonlyMap<KeyName, number> = new Map<KeyName, number>([
  ...LETTERS,
  ['Num1', 2], ['Num2', 3], ['Num3', 4], ['Num4', 5], ['Num5', 6], ['Num6', 7], ['Num7', 8], ['Num8', 9], ['Num9', 10], ['Num0', 11],
  ['Escape', 1], ['Minus', 12], ['Equal', 13], ['Backspace', 14], ['Tab', 15], ['LeftBracket', 26], ['RightBracket', 27],
  ['Enter', 28], ['Return', 28], ['LeftControl', 29], ['Semicolon', 39], ['Quote', 40], ['Grave', 41], ['LeftShift', 42],
  ['Backslash', 43], ['Comma', 51], ['Period', 52], ['Slash', 53], ['RightShift', 54], ['LeftAlt', 56], ['Space', 57],
  ['F1', 59], ['F2', 60], ['F3', 61], ['F4', 62], ['F5', 63], ['F6', 64], ['F7', 65], ['F8', 66], ['F9', 67], ['F10', 68],
  ['F11', 87], ['F12', 88], ['RightControl', 97], ['RightAlt', 100], ['Home', 102], ['Up', 103], ['PageUp', 104],
  ['Left', 105], ['Right', 106], ['End', 107], ['Down', 108], ['PageDown', 109], ['Insert', 110], ['Delete', 111],
]);

/** BTN_LEFT, BTN_RIGHT, BTN_MIDDLE. */
export const EVDEV_BUTTONS = { left: 0x110, right: 0x111, middle: 0x112 } as const;
