// Pure: the tray's icon and menu as data, computed from host state. The Electron adapter renders it.

import type { SessionInfo } from '../shared/contract/sessions';

export type TrayIconState = 'idle' | 'sharing' | 'live' | 'error';

export interface TrayHostState {
  sharing: boolean;
  sessions: Array<{ id: string; peerName: string }>;
  error: string | null;
  killSwitchAvailable: boolean;
}

export type TrayAction =
  | { type: 'open-dashboard' }
  | { type: 'set-sharing'; sharing: boolean }
  | { type: 'stop-session'; sessionId: string }
  | { type: 'stop-all-sessions' }
  | { type: 'kill-switch' }
  | { type: 'quit' };

export type TrayMenuItem =
  | { kind: 'item'; label: string; action: TrayAction; enabled: boolean }
  | { kind: 'checkbox'; label: string; checked: boolean; action: TrayAction }
  | { kind: 'label'; label: string }
  | { kind: 'separator' };

/** The live sessions (not failed or stopped ones still listed for their reason), as the tray shows them. */
export function traySessions(list: readonly SessionInfo[]): TrayHostState['sessions'] {
  return list
    .filter((session) => session.state === 'starting' || session.state === 'running' || session.state === 'restarting')
    .map((session) => ({ id: session.id, peerName: session.viewers.length > 0 ? session.viewers.join(', ') : `session ${session.id.slice(0, 8)}` }));
}

export function trayIconState(state: TrayHostState): TrayIconState {
  if (state.error) return 'error';
  if (state.sessions.length > 0) return 'live';
  if (state.sharing) return 'sharing';
  return 'idle';
}

export function trayTooltip(state: TrayHostState): string {
  if (state.error) return `GPU Bridge: ${state.error}`;
  if (state.sessions.length > 0) return `GPU Bridge: ${state.sessions.length} live session${state.sessions.length === 1 ? '' : 's'}`;
  return state.sharing ? 'GPU Bridge: sharing on' : 'GPU Bridge: idle';
}

export function trayMenu(state: TrayHostState): TrayMenuItem[] {
  const items: TrayMenuItem[] = [
    { kind: 'item', label: 'Open dashboard', action: { type: 'open-dashboard' }, enabled: true },
    { kind: 'separator' },
    { kind: 'checkbox', label: 'Share GPU', checked: state.sharing, action: { type: 'set-sharing', sharing: !state.sharing } },
  ];
  if (state.error) items.push({ kind: 'label', label: `Error: ${state.error}` });
  const live = state.sessions.length;
  items.push({ kind: 'separator' }, { kind: 'label', label: live === 0 ? 'No live sessions' : `Live sessions: ${live}` });
  for (const session of state.sessions) {
    items.push({ kind: 'item', label: `Stop ${session.peerName}`, action: { type: 'stop-session', sessionId: session.id }, enabled: true });
  }
  items.push({ kind: 'item', label: 'Stop all sessions', action: { type: 'stop-all-sessions' }, enabled: live > 0 });
  items.push(
    { kind: 'separator' },
    {
      kind: 'item',
      label: 'Stop all sharing and input',
      action: { type: 'kill-switch' },
      enabled: state.killSwitchAvailable && (state.sharing || state.sessions.length > 0),
    },
    { kind: 'separator' },
    { kind: 'item', label: 'Quit GPU Bridge', action: { type: 'quit' }, enabled: true },
  );
  return items;
}
