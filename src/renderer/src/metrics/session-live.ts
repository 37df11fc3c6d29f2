import type { SessionInfo, SessionSecond } from '../../../shared/contract';
import { LiveSeries, type LiveSample } from './live-series';

/** The figures of one viewer's second that the Sessions page charts. */
export const SESSION_KEYS = [
  'p50Ms', 'p95Ms', 'fpsSent', 'fpsReceived', 'bitrateKbps', 'targetKbps', 'rttMs',
  // the rtp transport's repairs (null over srt)
  'packetsLost', 'fecRecovered', 'nackRecovered', 'framesLost', 'keyframeRequests', 'cleanPictureMs', 'queueDelayMs',
  // the session's sound (absent when it carries none)
  'audioKbps', 'audioPacketsLost', 'audioPacketsRecovered', 'audioConcealedMs', 'audioLatencyMs', 'avOffsetMs',
] as const;
export type SessionKey = (typeof SESSION_KEYS)[number];

/** The series group of one viewer of one session (a LiveSeries "address"). */
export function viewerSeriesId(sessionId: string, viewer: string): string {
  return `${sessionId}/${viewer}`;
}

export function sessionSample(second: SessionSecond): LiveSample<SessionKey> {
  const values: LiveSample<SessionKey>['values'] = {};
  for (const key of SESSION_KEYS) values[key] = second[key] ?? null;
  return { t: second.t, address: viewerSeriesId(second.sessionId, second.viewer), values };
}

/**
 * Every viewer's seconds since this page was loaded, outside React (like the Dashboard's metrics): fed
 * by `sessions.second` from bindStore, so the history is kept while another page is shown.
 */
export const sessionLive = new LiveSeries<SessionKey>();

/** Drops the history of sessions the host no longer lists (it keeps an ended one for a minute). */
export function forgetUnlisted(live: LiveSeries<SessionKey>, list: readonly SessionInfo[]): void {
  const listed = new Set(list.map((session) => session.id));
  for (const address of live.addresses()) {
    if (!listed.has(address.slice(0, address.indexOf('/')))) live.forget(address);
  }
}
