/** A browser KeyboardEvent.key as the host's key name (src/core/input/keymap.ts); null: not sent. */
const NAMED: Record<string, string> = {
  Escape: 'Escape', Enter: 'Enter', Tab: 'Tab', ' ': 'Space', Backspace: 'Backspace', Delete: 'Delete', Insert: 'Insert', Home: 'Home', End: 'End',
  PageUp: 'PageUp', PageDown: 'PageDown', ArrowLeft: 'Left', ArrowRight: 'Right', ArrowUp: 'Up', ArrowDown: 'Down',
};

export function hostKeyName(event: { key: string; code: string }): string | null {
  if (event.key in NAMED) return NAMED[event.key]!;
  if (/^F([1-9]|1[0-2])$/.test(event.key)) return event.key;
  if (event.key === 'Shift') return event.code === 'ShiftRight' ? 'RightShift' : 'LeftShift';
  if (event.key === 'Control') return event.code === 'ControlRight' ? 'RightControl' : 'LeftControl';
  if (event.key === 'Alt') return event.code === 'AltRight' ? 'RightAlt' : 'LeftAlt';
  return event.key.length === 1 ? event.key : null;
}
