import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

/** SRT passphrases are 10..79 characters; ours are 32 of [A-Za-z0-9] (190 bits) so they need no escaping. */
export const PASSPHRASE_PATTERN = /^[A-Za-z0-9]{32}$/;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh passphrase for one session (rejection sampling keeps it uniform). */
export function newPassphrase(): string {
  let out = '';
  while (out.length < 32) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && out.length < 32) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export interface SrtEndpoint {
  host: string;
  port: number;
  passphrase: string;
  /** SRT receive latency (TSBPD) in milliseconds. */
  latencyMs: number;
}

function check(endpoint: SrtEndpoint): void {
  if (!isIP(endpoint.host)) throw new Error(`SRT host must be an IP address, got "${endpoint.host.slice(0, 60)}"`);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) throw new Error(`bad SRT port ${endpoint.port}`);
  if (!PASSPHRASE_PATTERN.test(endpoint.passphrase)) throw new Error('the SRT passphrase must be 32 letters or digits');
  if (!Number.isFinite(endpoint.latencyMs) || endpoint.latencyMs < 0 || endpoint.latencyMs > 5000) throw new Error(`bad SRT latency ${endpoint.latencyMs} ms`);
}

function hostPart(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Common options: AES-256, encryption required, live mode; ffmpeg takes latency in microseconds. */
function query(endpoint: SrtEndpoint, mode: 'caller' | 'listener'): string {
  const latencyUs = Math.round(endpoint.latencyMs * 1000);
  return [`mode=${mode}`, `latency=${latencyUs}`, `passphrase=${endpoint.passphrase}`, 'pbkeylen=32', 'enforced_encryption=1', 'transtype=live'].join('&');
}

/** The host's side: it calls the peer's listener. payload_size 1316 = 7 MPEG-TS packets. */
export function srtCallerUrl(endpoint: SrtEndpoint, connectTimeoutMs = 3000): string {
  check(endpoint);
  return `srt://${hostPart(endpoint.host)}:${endpoint.port}?${query(endpoint, 'caller')}&payload_size=1316&connect_timeout=${connectTimeoutMs}`;
}

/** The peer's side: it listens; `listenTimeoutMs` bounds the wait for the host. */
export function srtListenerUrl(endpoint: SrtEndpoint, listenTimeoutMs = 10_000): string {
  check(endpoint);
  return `srt://${hostPart(endpoint.host)}:${endpoint.port}?${query(endpoint, 'listener')}&listen_timeout=${listenTimeoutMs * 1000}`;
}

/**
 * SRT latency from the measured RTT, as SRT's authors advise (about 4 × RTT, room for a retransmission
 * or two), instead of the default 120 ms. Loopback (RTT under 0.25 ms) loses nothing: 0.
 * Unknown RTT: 40 ms, a safe middle.
 */
export function srtLatencyFromRtt(rttMs: number | null): number {
  if (rttMs === null || !Number.isFinite(rttMs) || rttMs < 0) return 40;
  if (rttMs < 0.25) return 0;
  return Math.min(1000, Math.ceil(rttMs * 4) + 1);
}
