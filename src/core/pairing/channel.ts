import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { ControlMessage, MAX_CONTROL_LINE_BYTES } from '../../shared/contract/peers';

export interface ChannelOptions {
  maxLineBytes?: number;
  /** Messages per second above which the connection is closed as a flood. */
  maxMessagesPerSecond?: number;
  /** Malformed messages tolerated before the connection is closed. */
  maxMalformed?: number;
}

export interface ChannelCounters {
  received: number;
  sent: number;
  malformed: number;
  oversized: number;
}

/**
 * Newline-delimited JSON over a TLS socket. Every line is parsed and validated against the contract's
 * ControlMessage schema; a bad one is answered with an error message and counted, a flood closes.
 * Events: 'message' (ControlMessage), 'close' (reason).
 */
export class ControlChannel extends EventEmitter {
  readonly counters: ChannelCounters = { received: 0, sent: 0, malformed: 0, oversized: 0 };
  private buffer = '';
  private discarding = false;
  private windowStart = Date.now();
  private windowCount = 0;
  private closed = false;
  private readonly maxLineBytes: number;
  private readonly maxRate: number;
  private readonly maxMalformed: number;

  constructor(
    readonly socket: TLSSocket,
    options: ChannelOptions = {},
  ) {
    super();
    this.maxLineBytes = options.maxLineBytes ?? MAX_CONTROL_LINE_BYTES;
    this.maxRate = options.maxMessagesPerSecond ?? 500;
    this.maxMalformed = options.maxMalformed ?? 100;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.finish('connection closed'));
    socket.on('error', (error) => this.finish(error.message));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(message: ControlMessage): void {
    if (this.closed || this.socket.destroyed) return;
    this.counters.sent += 1;
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends an error, then closes once it is flushed. */
  close(code?: string, message?: string): void {
    if (this.closed) return;
    if (code && message) this.send({ type: 'error', code, message });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.finish(message ?? 'closed');
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', reason);
  }

  private onData(chunk: string): void {
    if (this.closed) return;
    let rest = chunk;
    while (rest.length > 0 && !this.closed) {
      const newline = rest.indexOf('\n');
      if (newline === -1) {
        if (this.discarding) return;
        this.buffer += rest;
        if (Buffer.byteLength(this.buffer) > this.maxLineBytes) {
          this.buffer = '';
          this.discarding = true;
          this.oversized();
        }
        return;
      }
      const piece = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      const line = this.buffer + piece;
      this.buffer = '';
      if (Buffer.byteLength(line) > this.maxLineBytes) {
        this.oversized();
        continue;
      }
      if (line.trim() === '') continue;
      this.onLine(line);
    }
  }

  private countRate(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += 1;
    if (this.windowCount > this.maxRate) {
      this.close('RATE_LIMITED', `more than ${this.maxRate} messages per second: closing`);
      return false;
    }
    return true;
  }

  private oversized(): void {
    this.counters.oversized += 1;
    if (!this.countRate()) return;
    this.send({ type: 'error', code: 'MESSAGE_TOO_LARGE', message: `a control message may be at most ${this.maxLineBytes} bytes` });
    this.bumpMalformed();
  }

  private bumpMalformed(): void {
    this.counters.malformed += 1;
    if (this.counters.malformed > this.maxMalformed) this.close('INVALID_REQUEST', `more than ${this.maxMalformed} malformed messages: closing`);
  }

  private onLine(line: string): void {
    if (!this.countRate()) return;
    this.counters.received += 1;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.send({ type: 'error', code: 'PARSE_ERROR', message: 'not JSON' });
      this.bumpMalformed();
      return;
    }
    const parsed = ControlMessage.safeParse(json);
    if (!parsed.success) {
      const type = typeof json === 'object' && json !== null && 'type' in json ? String((json as { type: unknown }).type).slice(0, 40) : '(none)';
      this.send({ type: 'error', code: 'INVALID_REQUEST', message: `unknown or malformed message of type ${type}` });
      this.bumpMalformed();
      return;
    }
    this.emit('message', parsed.data);
  }
}

/** Wall clock with sub-millisecond resolution. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface ClockSample {
  rttMs: number;
  offsetMs: number;
}

/**
 * NTP-style estimate from ping/pong exchanges: offset = ((t1 - t0) + (t2 - t3)) / 2, the remote clock
 * minus ours; RTT = (t3 - t0) - (t2 - t1). Keeps the last few samples and trusts the one with the smallest RTT.
 */
export class ClockEstimator {
  private readonly samples: ClockSample[] = [];
  constructor(private readonly keep = 8) {}

  add(t0: number, t1: number, t2: number, t3: number): ClockSample {
    const sample = { rttMs: Math.max(0, t3 - t0 - (t2 - t1)), offsetMs: (t1 - t0 + (t2 - t3)) / 2 };
    this.samples.push(sample);
    if (this.samples.length > this.keep) this.samples.shift();
    return sample;
  }

  get rttMs(): number | null {
    return this.samples.length === 0 ? null : this.samples[this.samples.length - 1]!.rttMs;
  }

  /**
   * The path's round trip: the smallest of the kept samples. One sample reads late when either end was
   * busy as it went by (the peer setting up the session at connect, opening a receiver): what sizes a
   * buffer by the round trip (SRT's latency) takes this one.
   */
  get pathRttMs(): number | null {
    return this.samples.length === 0 ? null : Math.min(...this.samples.map((sample) => sample.rttMs));
  }

  get offsetMs(): number | null {
    if (this.samples.length === 0) return null;
    return this.samples.reduce((best, sample) => (sample.rttMs < best.rttMs ? sample : best)).offsetMs;
  }

  get count(): number {
    return this.samples.length;
  }
}
