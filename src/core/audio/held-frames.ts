import type { Writable } from 'node:stream';
import { preciseNow } from '../pairing/channel';

/** Frames that wait before the decoder (lip sync), written in their order however the wait changes. */
export class HeldFrames {
  private readonly queue: { at: number; data: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly stdin: Writable) {}

  /** Queues a frame; returns when it goes to the decoder. */
  push(data: Buffer, holdMs: number): number {
    const at = Math.max(preciseNow() + holdMs, this.queue.at(-1)?.at ?? 0);
    this.queue.push({ at, data });
    this.drain();
    return at;
  }

  private drain(): void {
    const now = preciseNow();
    while (this.queue.length > 0 && this.queue[0]!.at <= now + 0.5) {
      const { data } = this.queue.shift()!;
      if (this.stdin.writable) this.stdin.write(data);
    }
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, Math.max(0, this.queue[0]!.at - now));
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}
