/** Pure helpers of the Sessions page: no React, unit-tested. */
import type { PeerStatus, SessionInfo } from '../../../../shared/contract';

/** Peers a session can go to now: paired, not revoked, online, with the view scope. */
export function startablePeers(peers: readonly PeerStatus[]): PeerStatus[] {
  return peers.filter((peer) => peer.revokedAt === null && peer.online && peer.scopes.includes('view'));
}

/** Why the Start button cannot be used now, in words that say what to do; null when it can. */
export function startBlocker(peers: readonly PeerStatus[] | null, sharing: boolean | null): string | null {
  if (peers === null) return 'Reading the paired peers…';
  const paired = peers.filter((peer) => peer.revokedAt === null);
  if (paired.length === 0) return 'No paired peer yet: pair a cloud instance on the Peers page first (run `gpu-bridge peer pair` on it).';
  if (startablePeers(peers).length === 0) {
    const offline = paired.filter((peer) => !peer.online).map((peer) => peer.name);
    const noView = paired.filter((peer) => peer.online && !peer.scopes.includes('view')).map((peer) => peer.name);
    const parts = [];
    if (offline.length > 0) parts.push(`offline: ${offline.join(', ')} (start \`gpu-bridge peer run\` there)`);
    if (noView.length > 0) parts.push(`without the view scope: ${noView.join(', ')} (allow view on the Peers page)`);
    return `No paired peer can receive a stream now — ${parts.join('; ')}.`;
  }
  if (sharing === false) return 'Sharing is off: turn on Share GPU above to start a session.';
  return null;
}

export const SIZE_PRESETS = [
  { id: '1280x720', width: 1280, height: 720 },
  { id: '1920x1080', width: 1920, height: 1080 },
] as const;

/** A custom size, checked like the host checks it (even, 256–7680 × 144–4320); a string says what is wrong. */
export function checkSize(width: number, height: number): string | null {
  if (!Number.isInteger(width) || width < 256 || width > 7680 || width % 2 !== 0) return 'Width must be an even number from 256 to 7680.';
  if (!Number.isInteger(height) || height < 144 || height > 4320 || height % 2 !== 0) return 'Height must be an even number from 144 to 4320.';
  return null;
}

/** An optional bitrate field: empty is automatic (undefined); otherwise whole kbit/s from 100 to 500000. */
export function parseBitrate(text: string): { kbps: number | undefined } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { kbps: undefined };
  const kbps = Number(trimmed);
  if (!Number.isInteger(kbps) || kbps < 100 || kbps > 500_000) return { error: 'Bitrate must be a whole number of kbit/s from 100 to 500000, or empty for automatic.' };
  return { kbps };
}

export function formatKbps(kbps: number | null | undefined): string {
  if (kbps === null || kbps === undefined || !Number.isFinite(kbps)) return '—';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

const STATE_LABELS: Record<SessionInfo['state'], string> = {
  starting: 'starting',
  running: 'running',
  restarting: 'restarting the encoder',
  failed: 'failed',
  stopped: 'stopped',
};

export function stateLabel(session: SessionInfo): string {
  return STATE_LABELS[session.state];
}

export function isLive(session: SessionInfo): boolean {
  return session.state === 'starting' || session.state === 'running' || session.state === 'restarting';
}

/** What to do about a failed call, from the host's error code and message. */
export function adviceFor(code: string | undefined, message: string): string {
  if (/connection to the host was lost/i.test(message)) return 'Wait for the connection to come back (top right), then try again.';
  if (/sharing is off/i.test(message)) return 'Turn on Share GPU above, then start again.';
  if (/lacks the view scope/i.test(message)) return 'Allow view for this peer on the Peers page.';
  if (/offline/i.test(message)) return 'Start `gpu-bridge peer run` on the cloud instance and wait until it shows online.';
  if (/no X display|no screen to capture/i.test(message)) return 'See "Capture sources" below for what works on this host and what to do; or choose the test pattern.';
  if (/unattended sharing is off/i.test(message)) return 'Turn on unattended GNOME sharing under "Capture sources", or choose the screen share portal.';
  if (/cancelled on the workstation|refused on the workstation/i.test(message)) return 'Start again and approve the screen share on the workstation.';
  if (/cannot start a local peer/i.test(message)) return 'Run `gpu-bridge session selftest` in a terminal on this host instead.';
  if (/already running/i.test(message)) return 'Wait for the running self-test to finish.';
  if (/this ffmpeg has no|no .*encoder|ffmpeg/i.test(message)) return 'Install an ffmpeg with libx264 (Debian: `apt-get install ffmpeg`), then try again.';
  switch (code) {
    case 'TIMEOUT':
      return 'The host did not answer in time — it may be overloaded. Try a smaller size or a lower frame rate.';
    case 'CONFLICT':
      return 'Stop a session first, then try again.';
    case 'INVALID_PARAMS':
      return 'Check the fields and try again.';
    default:
      return 'See the output of GPU Bridge on the host for details, then try again.';
  }
}

/** "What happened. What to do." for an error thrown by a call. */
export function describeFailure(what: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
  return `${what}: ${message.replace(/\.$/, '')}. ${adviceFor(code, message)}`;
}

/**
 * The "First frame" fact: the start-up time once a frame's stamp was read; frames decoded without one
 * (or before one could be read) are said to be arriving, never "not yet" while the session streams.
 */
export function firstFrameText(session: Pick<SessionInfo, 'firstFrameMs' | 'framesDecoded' | 'state' | 'last'>, formatTime: (ms: number) => string): string {
  if (session.firstFrameMs !== null) return `${formatTime(session.firstFrameMs)} after start`;
  if (session.framesDecoded > 0 || (session.last?.fpsReceived ?? 0) > 0) return 'frames arriving (start-up time not measured: no readable stamp yet)';
  if (session.state === 'starting' || session.state === 'restarting') return 'not yet';
  return session.state === 'running' ? 'not yet (no frame decoded by the viewer)' : 'none reached the viewer';
}
