import { preciseNow } from '../pairing/channel';

/**
 * Wakes the playout at its next turn (a frame due, a half frame to write) instead of polling every few ms:
 * one timer, armed for the earliest time asked. A 2 ms poll wrote each frame 1.3-1.6 ms after its turn
 * (bench/latency's stage split); Node's timers count whole ms, so this one is up to about 1 ms late.
 */
export class PlayoutTimer {
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  /** Which arming is current: one replaced by a sooner one, still waiting out its fraction, gives up. */
  private generation = 0;
  private closed = false;

  constructor(private readonly tick: () => void) {}

  /** A tick at the earliest of `times` (local ms, preciseNow's clock; null: nothing asked), unless one is armed for sooner. */
  wakeAt(now: number, ...times: Array<number | null>): void {
    const at = Math.min(...times.map((time) => time ?? Infinity));
    if (this.closed || at === Infinity || at >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    const generation = (this.generation += 1);
    // rounded up; still, Node's timers start from a whole-ms clock and can fire up to 1 ms early
    this.timer = setTimeout(() => this.fire(at, generation), Math.max(0, Math.ceil(at - now)));
    this.timer.unref();
  }

  /** Ticks at `at`: a timer that fired a fraction of a ms early waits the rest out on the next turns of the loop. */
  private fire(at: number, generation: number): void {
    if (this.closed || generation !== this.generation) return;
    if (preciseNow() < at) {
      setImmediate(() => this.fire(at, generation));
      return;
    }
    this.timer = null;
    this.armedFor = Infinity;
    this.tick();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
