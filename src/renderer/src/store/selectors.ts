import type { SessionInfo } from '../../../shared/contract';
import type { StoreState } from './types';

/** Pure functions of the store: components subscribe to exactly what they show. */
export const selectConnectionState = (s: StoreState) => s.connection.state;
export const selectConnectionDetail = (s: StoreState) => s.connection.detail;
export const selectInfo = (s: StoreState) => s.info;
export const selectInfoError = (s: StoreState) => s.infoError;
export const selectPage = (s: StoreState) => s.page;
export const selectSharing = (s: StoreState) => s.sharing;
export const selectNotices = (s: StoreState) => s.notices;
export const selectSessions = (s: StoreState) => s.sessions;
export const selectSelftest = (s: StoreState) => s.selftest;

export function connectionLabel(state: StoreState['connection']['state']): string {
  return state === 'open' ? 'Connected' : state === 'connecting' ? 'Connecting…' : 'Disconnected';
}

/** Pure derivation; call it on a selected value (selectors must return stable references). */
export function encoderSummary(info: StoreState['info']): { hardware: string[]; software: string[] } {
  const encoders = info?.capabilities.ffmpegEncoders ?? [];
  const hardware = encoders.filter((name) => /_(nvenc|vaapi|qsv)$/.test(name));
  return { hardware, software: encoders.filter((name) => !hardware.includes(name)) };
}

/**
 * Whether anything is shared now, for the kill switch: sharing on, or a session still streaming (one
 * started before sharing went off). Unknown (not read yet) counts as shared: the switch stays offered.
 */
export function nothingShared(sharing: { sharing: boolean } | null, sessions: ReadonlyArray<{ state: SessionInfo['state'] }> | null): boolean {
  if (sharing === null || sessions === null) return false;
  return !sharing.sharing && !sessions.some((s) => s.state === 'starting' || s.state === 'running' || s.state === 'restarting');
}
