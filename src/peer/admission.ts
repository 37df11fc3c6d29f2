import type { Socket } from 'node:net';

export interface AdmissionLimits {
  /** Connections not (yet) in a paired session, from all sources together. */
  maxPending: number;
  /** The same, from one source address. */
  maxPendingPerSource: number;
  /** A connection must be in a paired session within this (TLS handshake, then pairing), or it is closed. */
  pendingMs: number;
  /** Failed pairing attempts per source, and from all sources together, per minute, past which pairing waits. */
  pairPerSourcePerMinute: number;
  pairPerMinute: number;
  /** Sources remembered as a paired host's (they keep a way in past `maxPending`), and for how long. */
  maxTrusted: number;
  trustMs: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = {
  maxPending: 64,
  maxPendingPerSource: 8,
  pendingMs: 10_000,
  pairPerSourcePerMinute: 6,
  pairPerMinute: 30,
  maxTrusted: 256,
  trustMs: 7 * 24 * 3600_000,
};

interface Pending {
  source: string;
  socket: Socket;
  timer: NodeJS.Timeout;
}

/** The address a connection comes from, IPv4-mapped IPv6 folded to IPv4. */
export function sourceOf(socket: { remoteAddress?: string }): string {
  return (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
}

function keyOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${sourceOf(socket)}|${socket.remotePort ?? 0}`;
}

/**
 * What an unauthenticated client can hold at the peer, bounded: connections not yet in a paired session
 * (in all and per source address, each for at most `pendingMs`), and pairing attempts per minute. A source
 * that has held a paired session keeps a way in past the overall cap, so a flood from elsewhere does not
 * lock the real host out. Works on the raw TCP socket, before TLS costs anything.
 */
export class Admission {
  private readonly pending = new Map<string, Pending>();
  private readonly perSource = new Map<string, number>();
  private readonly trusted = new Map<string, number>();
  private readonly pairAttempts: number[] = [];
  private readonly pairAttemptsBySource = new Map<string, number[]>();

  constructor(private readonly limits: AdmissionLimits = DEFAULT_LIMITS) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** A new TCP connection. Returns the reason when it is refused (and destroyed), else null. */
  admit(socket: Socket, now = Date.now()): string | null {
    const source = sourceOf(socket);
    const fromSource = this.perSource.get(source) ?? 0;
    const trusted = this.isTrusted(source, now);
    const refusal =
      fromSource >= this.limits.maxPendingPerSource
        ? `over ${this.limits.maxPendingPerSource} connections from one address`
        : this.pending.size >= this.limits.maxPending && !trusted
          ? `over ${this.limits.maxPending} connections not yet paired`
          : null;
    if (refusal) {
      socket.destroy();
      return refusal;
    }
    const key = keyOf(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      this.release(key);
    }, this.limits.pendingMs);
    timer.unref();
    this.pending.set(key, { source, socket, timer });
    this.perSource.set(source, fromSource + 1);
    socket.once('close', () => this.release(key));
    return null;
  }

  /** The connection is a paired session now: it no longer counts, and its source is a host's. */
  settle(socket: { remoteAddress?: string; remotePort?: number }, now = Date.now()): void {
    const source = sourceOf(socket);
    this.release(keyOf(socket));
    this.trusted.delete(source);
    this.trusted.set(source, now);
    while (this.trusted.size > this.limits.maxTrusted) this.trusted.delete(this.trusted.keys().next().value!);
  }

  /**
   * May this source try a pairing token now? Not after too many failed tries in the last minute, from it
   * or from everyone (a token is a one-time secret: guessing is the only use of many tries).
   */
  allowPairing(source: string, now = Date.now()): boolean {
    const since = now - 60_000;
    while (this.pairAttempts.length > 0 && this.pairAttempts[0]! <= since) this.pairAttempts.shift();
    const mine = (this.pairAttemptsBySource.get(source) ?? []).filter((t) => t > since);
    if (mine.length > 0) this.pairAttemptsBySource.set(source, mine);
    else this.pairAttemptsBySource.delete(source);
    return this.pairAttempts.length < this.limits.pairPerMinute && mine.length < this.limits.pairPerSourcePerMinute;
  }

  /** A pairing try from this source failed (a wrong, used or expired token). */
  pairingFailed(source: string, now = Date.now()): void {
    this.pairAttempts.push(now);
    const mine = this.pairAttemptsBySource.get(source) ?? [];
    mine.push(now);
    this.pairAttemptsBySource.set(source, mine);
    // at most a minute's worth of failures is remembered, and the map only holds sources that failed lately
    if (this.pairAttemptsBySource.size > 1024) {
      const since = now - 60_000;
      for (const [key, times] of this.pairAttemptsBySource) if (!times.some((t) => t > since)) this.pairAttemptsBySource.delete(key);
    }
  }

  private isTrusted(source: string, now: number): boolean {
    const at = this.trusted.get(source);
    return at !== undefined && now - at < this.limits.trustMs;
  }

  private release(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const left = (this.perSource.get(entry.source) ?? 1) - 1;
    if (left <= 0) this.perSource.delete(entry.source);
    else this.perSource.set(entry.source, left);
  }

  /** Closes every pending connection (the agent stops). */
  close(): void {
    for (const [key, entry] of this.pending) {
      entry.socket.destroy();
      this.release(key);
    }
  }
}
