/** What the pacer needs to know of the stream it paces. */
export interface PacingSettings {
  /** The encoder's target, kbit/s: packets leave at `factor` times this. */
  targetKbps: number;
  fps: number;
  /** Default DEFAULT_PACING_FACTOR. */
  factor?: number;
  /**
   * What the link carried when it was last full (kbit/s, media, FEC and resends), where the bitrate
   * controller knows it: packets never leave faster than that (a keyframe paced at 1.5 times a target near
   * the link's rate would still flood its queue), though never slower than just over the target.
   */
  linkKbps?: number | null;
}

/**
 * 1.5 times the target: fast enough that an ordinary frame is gone in two thirds of a frame interval,
 * slow enough that a keyframe ten times a frame's size, through a link only 1.5 times the stream's rate,
 * never piles up in that link's queue.
 */
export const DEFAULT_PACING_FACTOR = 1.5;
/** A packet that waited this long leaves whatever the tokens say: the pacer must not become the queue. */
const MAX_BACKLOG_MS = 200;
/**
 * The pace is never below this much over what was pushed in the last second or so (FEC on a lossy link,
 * resends, an encoder over its target): the pacer spreads bursts, it must not hold the stream back.
 */
const OVER_PUSHED = 1.1;
const WINDOW_MS = 500;
/** Under a known link rate, the pace is still at least this much over the target (the stream's FEC and headers). */
const MIN_OVER_TARGET = 1.15;
/** The smallest burst allowed, bytes: a few full packets, whatever the rate. */
const MIN_BURST_BYTES = 8 * 1500;

/**
 * `GPU_BRIDGE_RTP_PACING=off` (or 0) sends every packet at once, as before pacing (for comparison);
 * `GPU_BRIDGE_RTP_PACING=2` sets the factor.
 */
export function pacingFactorFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const value = env.GPU_BRIDGE_RTP_PACING?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'on') return DEFAULT_PACING_FACTOR;
  if (value === 'off' || value === '0') return null;
  const factor = Number(value);
  if (!Number.isFinite(factor) || factor < 1 || factor > 20) throw new Error(`GPU_BRIDGE_RTP_PACING must be off, on or a factor of 1 to 20 times the target rate, got ${value.slice(0, 20)}`);
  return factor;
}

/**
 * A token bucket in front of a socket. Tokens come at `factor` times the target rate; the bucket holds
 * one average frame, so an ordinary frame leaves at once (no latency added) while a keyframe's bulk is
 * spread out at the pacing rate instead of landing in a bottleneck's queue all at once. Urgent packets
 * (retransmissions) go ahead of the queue, still within the rate.
 */
export class Pacer<T extends { readonly length: number } = Buffer> {
  private bytesPerMs = 0;
  private burstBytes = 0;
  private tokens = 0;
  private refilledAt = performance.now();
  private queue: { packet: T; at: number }[] = [];
  private head = 0;
  private urgent: { packet: T; at: number }[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bytes pushed in the current and the previous WINDOW_MS. */
  private pushed = { current: 0, previous: 0, since: 0 };
  /** Packets that had to wait for tokens (for benches and tests). */
  delayed = 0;

  constructor(
    /** A packet's turn has come (`length`: its bytes on the wire). */
    private readonly send: (packet: T) => void,
    settings: PacingSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.setTarget(settings);
    this.tokens = this.burstBytes;
    this.refilledAt = this.now();
    this.pushed.since = this.refilledAt;
  }

  setTarget(settings: PacingSettings): void {
    const factor = settings.factor ?? DEFAULT_PACING_FACTOR;
    const link = settings.linkKbps ?? null;
    const linkBytesPerMs = link !== null && link > 0 ? link / 8 : Infinity;
    this.bytesPerMs = Math.max((settings.targetKbps * MIN_OVER_TARGET) / 8, Math.min((settings.targetKbps * factor) / 8, linkBytesPerMs));
    this.burstBytes = Math.max(MIN_BURST_BYTES, Math.round((settings.targetKbps * 1000) / 8 / Math.max(1, settings.fps)));
    // a wait timed for the old rate
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.refill();
      this.schedule();
    }
  }

  get backlogBytes(): number {
    return this.queuedBytes;
  }

  push(packet: T, urgent = false): void {
    if (this.closed) return;
    this.refill();
    this.pushed.current += packet.length;
    if (this.queuedBytes === 0 && this.tokens > 0) {
      this.tokens -= packet.length;
      this.send(packet);
      return;
    }
    this.delayed += 1;
    const entry = { packet, at: this.refilledAt };
    if (urgent) this.urgent.push(entry);
    else this.queue.push(entry);
    this.queuedBytes += packet.length;
    this.schedule();
  }

  /** Bytes a ms now: the target's pace, or more when more is being pushed. */
  private rate(now: number): number {
    const spanMs = now - this.pushed.since + WINDOW_MS;
    // what was pushed lifts the pace past the link's known rate too: held under it, the pacer became the
    // queue, spread every frame at that rate, and the receiver's packet trains never showed a link grown wider
    return Math.max(this.bytesPerMs, (OVER_PUSHED * (this.pushed.current + this.pushed.previous)) / spanMs);
  }

  private refill(): void {
    const now = this.now();
    if (now - this.pushed.since >= WINDOW_MS) {
      const stale = now - this.pushed.since >= 2 * WINDOW_MS;
      this.pushed = { current: 0, previous: stale ? 0 : this.pushed.current, since: now };
    }
    this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.refilledAt) * this.rate(now));
    this.refilledAt = now;
  }

  private drain(): void {
    this.timer = null;
    if (this.closed) return;
    this.refill();
    const stale = this.refilledAt - MAX_BACKLOG_MS;
    while (this.queuedBytes > 0 && (this.tokens > 0 || this.oldest() <= stale)) {
      const { packet } = this.urgent.length > 0 ? this.urgent.shift()! : this.queue[this.head++]!;
      this.queuedBytes -= packet.length;
      // a packet sent for its age runs up no debt: what came faster than the rate is not held against later frames
      if (this.tokens > 0) this.tokens -= packet.length;
      this.send(packet);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    this.schedule();
  }

  /** When the longest-waiting packet was queued. */
  private oldest(): number {
    const urgent = this.urgent[0]?.at ?? Infinity;
    const queued = this.queue[this.head]?.at ?? Infinity;
    return Math.min(urgent, queued);
  }

  private schedule(): void {
    if (this.timer || this.queuedBytes === 0 || this.closed) return;
    const forTokens = (1 - this.tokens) / this.rate(this.refilledAt);
    const forStale = this.oldest() + MAX_BACKLOG_MS - this.refilledAt;
    this.timer = setTimeout(() => this.drain(), Math.max(1, Math.min(forTokens, forStale)));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.urgent = [];
    this.queuedBytes = 0;
  }
}
