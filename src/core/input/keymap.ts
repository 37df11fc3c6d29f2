/**
 * Printable characters as explicit key combinations of a US layout, by nut-js Key name. nut-js's
 * `keyboard.type()` drops Shift for symbols on X11 (`!@#` arrives as `123`), so text is typed as
 * these combinations instead.
 */
export type KeyName = string;

const SHIFTED: Record<string, KeyName> = {
  '!': 'Num1', '@': 'Num2', '#': 'Num3', $: 'Num4', '%': 'Num5', '^': 'Num6', '&': 'Num7', '*': 'Num8', '(': 'Num9', ')': 'Num0',
  _: 'Minus', '+': 'Equal', '{': 'LeftBracket', '}': 'RightBracket', '|': 'Backslash', ':': 'Semicolon', '"': 'Quote',
  '<': 'Comma', '>': 'Period', '?': 'Slash', '~': 'Grave',
};

const PLAIN: Record<string, KeyName> = {
  '-': 'Minus', '=': 'Equal', '[': 'LeftBracket', ']': 'RightBracket', '\\': 'Backslash', ';': 'Semicolon', "'": 'Quote',
  ',': 'Comma', '.': 'Period', '/': 'Slash', '`': 'Grave', ' ': 'Space', '\n': 'Enter', '\t': 'Tab',
  '0': 'Num0', '1': 'Num1', '2': 'Num2', '3': 'Num3', '4': 'Num4', '5': 'Num5', '6': 'Num6', '7': 'Num7', '8': 'Num8', '9': 'Num9',
};

/** The keys to press together for one character (modifier first), or null when the layout has none. */
export function keysForChar(ch: string): KeyName[] | null {
  if (/^[a-z]$/.test(ch)) return [ch.toUpperCase()];
  if (/^[A-Z]$/.test(ch)) return ['LeftShift', ch];
  const plain = PLAIN[ch];
  if (plain) return [plain];
  const shifted = SHIFTED[ch];
  if (shifted) return ['LeftShift', shifted];
  return null;
}

/** Key names a peer may press one at a time (`key` events): letters, digits, and the named keys below. */
export const NAMED_KEYS = new Set<KeyName>([
  'Escape', 'Enter', 'Return', 'Tab', 'Space', 'Backspace', 'Delete', 'Insert', 'Home', 'End', 'PageUp', 'PageDown',
  'Left', 'Right', 'Up', 'Down', 'LeftShift', 'RightShift', 'LeftControl', 'RightControl', 'LeftAlt', 'RightAlt',
  'F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7', 'F8', 'F9', 'F10', 'F11', 'F12',
  ...Object.values(PLAIN), ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''),
]);
