import type { Socket } from 'node:net';

/**
 * What a client that has shown no token can hold on the web shell, which may listen beyond loopback (a
 * headless host): connections, time to send a request, and view-link checks (each reads the links file
 * under its lock). Authenticated connections count against the totals too; the per-address cap keeps
 * one flooding address from taking them all.
 */
export interface WebServerLimits {
  /** Open connections in all; beyond it new ones are closed at once. */
  maxConnections: number;
  /** Open connections from one address. */
  maxPerAddress: number;
  /** A request's headers (and a TLS handshake) must arrive within this. */
  headersTimeoutMs: number;
  /** A whole request must arrive within this. */
  requestTimeoutMs: number;
  /** View links being checked at once; beyond it a view-link request is answered 503 without a check. */
  maxPendingViewChecks: number;
}

export const WEB_SERVER_LIMITS: WebServerLimits = {
  maxConnections: 512,
  maxPerAddress: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxPendingViewChecks: 16,
};

/** Counts open connections per remote address; `admit` closes one over the cap. */
export class AddressGate {
  private readonly open = new Map<string, number>();
  /** Connections closed for their address being over the cap. */
  refused = 0;

  constructor(private readonly maxPerAddress: number) {}

  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const count = this.open.get(address) ?? 0;
    if (count >= this.maxPerAddress) {
      this.refused++;
      socket.destroy();
      return false;
    }
    this.open.set(address, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    });
    return true;
  }

  addresses(): number {
    return this.open.size;
  }
}

/**
 * Closes a connection that has sent nothing within `ms`: Node's headers timeout only starts with the first
 * byte. bytesRead, not a 'data' listener, because the HTTP parser reads the socket's handle directly.
 */
export function closeIfSilent(socket: Socket, ms: number): void {
  const timer = setTimeout(() => {
    if (socket.bytesRead === 0) socket.destroy();
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** At most `limit` holders at once: `enter` gives a release function, or null when full. */
export class Slots {
  private held = 0;
  /** Entries refused for being full. */
  refused = 0;

  constructor(private readonly limit: number) {}

  enter(): (() => void) | null {
    if (this.held >= this.limit) {
      this.refused++;
      return null;
    }
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
    };
  }

  get inUse(): number {
    return this.held;
  }
}
