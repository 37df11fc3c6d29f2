import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** A process (or anything) writing raw I420 frames of one fixed size to a readable stream. */
export interface FrameReader {
  readonly frames: Readable;
  /** Resolves with a sentence when the reader stops (its exit and last words). */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
}

export interface FrameFeedOptions {
  width: number;
  height: number;
  fps: number;
  /** Starts a reader; called again when one ends while the capture itself goes on. */
  startReader: () => FrameReader;
  /** Resolves when the capture itself is over (share stopped, compositor gone): no restart then. */
  captureEnded?: Promise<string>;
  /** Reader restarts allowed within `restartWindowMs` before the feed gives up. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Names the source in the ending sentence, e.g. "portal capture". */
  label: string;
}

export interface FrameFeedCounts {
  /** Frames that came from the desktop. */
  framesIn: number;
  /** Frames sent again because the screen did not change in time (a steady rate for the encoder). */
  framesRepeated: number;
  /** Frames an encoder was not ready to take (its pipe full): dropped, never queued. */
  framesSkipped: number;
  readerRestarts: number;
}

/**
 * Frames from a desktop capture to the encoder runs at a steady rate. A compositor sends a frame only
 * when the screen changes: each new frame goes out the moment it is whole, and when none has come for
 * 1.25 frame intervals the last one is sent again, then once an interval, so the encoder's rate and
 * the viewer's picture never stall on a still screen. Every encoder run attached gets every frame (a run
 * taking over from another needs its first frame before the old one stops); a run whose pipe is full
 * skips frames rather than queue them (a queue is latency). A reader that ends while the capture goes
 * on (a mode change, a PipeWire hiccup) is restarted; the feed ends with a sentence when it cannot be.
 * Events: 'ended' (reason).
 */
export class FrameFeed extends EventEmitter {
  readonly frameBytes: number;
  readonly counts: FrameFeedCounts = { framesIn: 0, framesRepeated: 0, framesSkipped: 0, readerRestarts: 0 };
  private readonly sinks = new Set<Writable>();
  private last: Buffer | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private repeatTimer: NodeJS.Timeout | null = null;
  private reader: FrameReader | null = null;
  private readonly restarts: number[] = [];
  private endedReason: string | null = null;
  private captureOver: string | null = null;
  private readonly intervalMs: number;
  /** Resolves when the first frame from the desktop has arrived. */
  readonly firstFrame: Promise<void>;
  private gotFirstFrame: () => void = () => undefined;

  constructor(private readonly options: FrameFeedOptions) {
    super();
    this.frameBytes = (options.width * options.height * 3) / 2;
    this.intervalMs = 1000 / options.fps;
    this.firstFrame = new Promise((resolve) => (this.gotFirstFrame = resolve));
    void options.captureEnded?.then((reason) => {
      this.captureOver = `${options.label}: ${reason}`;
      this.end(this.captureOver);
    });
    this.startReader();
  }

  get ended(): string | null {
    return this.endedReason;
  }

  private startReader(): void {
    let reader: FrameReader;
    try {
      reader = this.options.startReader();
    } catch (error) {
      this.end(`${this.options.label}: ${(error as Error).message}`);
      return;
    }
    this.reader = reader;
    this.pending = [];
    this.pendingBytes = 0;
    reader.frames.on('data', (chunk: Buffer) => this.onData(chunk));
    reader.frames.on('error', () => undefined);
    void reader.exited.then((how) => this.onReaderExit(reader, how));
  }

  private async onReaderExit(reader: FrameReader, how: string): Promise<void> {
    if (this.reader !== reader || this.endedReason !== null) return;
    this.reader = null;
    // the capture's own end (share stopped) often arrives just after its stream's: prefer its words
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (this.endedReason !== null) return;
    if (this.captureOver !== null) {
      this.end(this.captureOver);
      return;
    }
    const now = Date.now();
    const window = this.options.restartWindowMs ?? 10_000;
    while (this.restarts.length > 0 && now - this.restarts[0]! > window) this.restarts.shift();
    if (this.restarts.length >= (this.options.maxRestarts ?? 3)) {
      this.end(`${this.options.label} stopped delivering frames (${how}), ${this.restarts.length} times in ${Math.round(window / 1000)} s; check that the desktop session and PipeWire are still running, then start the session again`);
      return;
    }
    this.restarts.push(now);
    this.counts.readerRestarts += 1;
    this.startReader();
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.frameBytes) {
      const joined = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const frame = joined.subarray(0, this.frameBytes);
      const rest = joined.subarray(this.frameBytes);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.counts.framesIn += 1;
      if (this.last === null) this.gotFirstFrame();
      // the frame's bytes stay valid: `joined` is never written again
      this.last = frame;
      this.send(frame);
      this.armRepeat(this.intervalMs * 1.25);
    }
  }

  private armRepeat(afterMs: number): void {
    if (this.repeatTimer) clearTimeout(this.repeatTimer);
    if (this.endedReason !== null) return;
    this.repeatTimer = setTimeout(() => {
      if (this.last === null) return;
      this.counts.framesRepeated += 1;
      this.send(this.last);
      this.armRepeat(this.intervalMs);
    }, afterMs);
  }

  private send(frame: Buffer): void {
    for (const sink of this.sinks) {
      if (sink.writableNeedDrain || sink.destroyed) {
        this.counts.framesSkipped += 1;
        continue;
      }
      sink.write(frame);
    }
  }

  /** An encoder run's stdin: from now on it gets every frame (the last one at once). Returns detach. */
  attach(sink: Writable): () => void {
    sink.on('error', () => this.sinks.delete(sink));
    this.sinks.add(sink);
    if (this.last !== null) sink.write(this.last);
    return () => this.sinks.delete(sink);
  }

  private end(reason: string): void {
    if (this.endedReason !== null) return;
    this.endedReason = reason;
    if (this.repeatTimer) clearTimeout(this.repeatTimer);
    this.repeatTimer = null;
    const reader = this.reader;
    this.reader = null;
    void reader?.stop();
    this.emit('ended', reason);
  }

  async close(): Promise<void> {
    const reader = this.reader;
    this.end('capture closed');
    await reader?.stop();
  }
}
