import { LATE_GRACE_MS } from './audio-playout';
import { FRAME_MS } from './opus-lib';

/**
 * Room above the transit floor, at least (ms), while packets are being lost: one frame and a little, so that
 * when a packet is missing at its turn the next one (whose in-band FEC rebuilds it) has usually arrived.
 */
export const MIN_JITTER_ROOM_MS = FRAME_MS + 2;
/**
 * At least (ms) on a path that has lost nothing lately: a frame kept back for FEC that never comes is 10 ms
 * heard late for nothing. A loss brings MIN_JITTER_ROOM_MS back at once (the playout repeats a frame to get
 * there, often in time for the missing one's FEC). On a real link the transit spread is wider and sets the
 * room; on a path as steady as loopback, a packet later than this still has the playout's grace
 * (LATE_GRACE_MS) before it is concealed: 2 rather than 4 played a loopback session's sound about 1 ms
 * sooner (bench/latency, alternated runs: own delay p50 16.9 against 17.9 ms).
 */
export const MIN_CLEAN_ROOM_MS = 2;
/** Packets after a loss during which FEC's room is kept (10 s of frames). */
const LOSS_MEMORY_PACKETS = 1000;
/**
 * Room over the transit spread (p95 − floor, ms) for the packets beyond it: 4 ms in all, of which the
 * playout's grace for a late packet (LATE_GRACE_MS) is the larger part, so frames are due that much sooner.
 */
const ARRIVAL_MARGIN_MS = 4 - LATE_GRACE_MS;
/** At most (ms): a path worse than this loses packets to concealment rather than making all sound late. */
export const MAX_JITTER_ROOM_MS = 100;
/**
 * How fast the delay comes down once the jitter that raised it is gone (ms per packet: 10 ms a second).
 * It goes up at once; coming down slowly keeps a bursty path from making the playout drop and repeat frames
 * back and forth, each one a step in the waveform.
 */
const DECAY_PER_PACKET_MS = 0.1;
/** Transit samples kept for the floor and spread (about a second of frames). */
const TRANSIT_WINDOW = 100;
/** The picture's delay: the median of this many recent stamped frames. */
const VIDEO_WINDOW = 30;
/** The sound's delay as written to the sink: the median of this many recent frames. */
const WRITTEN_WINDOW = 30;
/** The picture is held back at most this long to wait for the sound. */
export const MAX_VIDEO_HOLD_MS = 150;
/** A hold changes by at least this much, so the picture's pace is not nudged every frame. */
const HOLD_STEP_MS = 2;

/**
 * When the peer plays its sound and shows its picture (lip sync), from what it measured, with time and
 * delays passed in. All delays are (local time) − (host capture time): they carry the clocks' offset, which
 * cancels between sound and picture. The sound's own delay is the transit floor plus room for the jitter
 * seen; the picture's is its decode time minus its stamp. The later of the two sets the pace: the sound
 * waits for a later picture (`target`), or the picture for later sound (`videoHoldMs`, only where the
 * sound is heard).
 */
export class PlayoutDelay {
  private readonly transits: number[] = [];
  private readonly videoDelays: number[] = [];
  private readonly writtenDelays: number[] = [];
  private own: number | null = null;
  private hold = 0;
  private sinceLoss = Infinity;
  private floor: number | null = null;

  /** The sink, read live (PulseApiSink's latency moves with its target); only a 'pulse' sink is heard. */
  constructor(private readonly sink: { readonly latencyMs: number; readonly kind: string }) {}

  /** A packet's arrival minus its capture time (first arrivals only: a resend's says nothing of the path). */
  transit(ms: number): void {
    this.transits.push(ms);
    if (this.transits.length > TRANSIT_WINDOW) this.transits.shift();
    const sorted = [...this.transits].sort((a, b) => a - b);
    const floor = sorted[0]!;
    this.floor = floor;
    const spread = sorted[Math.floor(sorted.length * 0.95)]! - floor;
    this.sinceLoss += 1;
    const least = this.sinceLoss <= LOSS_MEMORY_PACKETS ? MIN_JITTER_ROOM_MS : MIN_CLEAN_ROOM_MS;
    const wanted = floor + Math.min(MAX_JITTER_ROOM_MS, Math.max(least, spread + ARRIVAL_MARGIN_MS));
    this.own = this.own === null || wanted >= this.own ? wanted : Math.max(wanted, this.own - DECAY_PER_PACKET_MS);
  }

  /** A packet found missing (a gap in the sequence): FEC's room comes back, at once. */
  loss(): void {
    this.sinceLoss = 0;
    if (this.own === null || this.transits.length === 0) return;
    this.own = Math.max(this.own, this.floor! + MIN_JITTER_ROOM_MS);
  }

  /** The least delay the playout may play at: the floor plus one frame and a little while packets are lost, else plus MIN_CLEAN_ROOM_MS. */
  get least(): number | undefined {
    if (this.floor === null) return undefined;
    return this.floor + (this.sinceLoss <= LOSS_MEMORY_PACKETS ? MIN_JITTER_ROOM_MS : MIN_CLEAN_ROOM_MS);
  }

  /**
   * A frame written to the sink `delayMs` after its capture: the sound's delay as played, which strays from
   * the target by up to the playout's tolerance and the poll's lateness; the picture is held to this one.
   */
  written(delayMs: number): void {
    this.writtenDelays.push(delayMs);
    if (this.writtenDelays.length > WRITTEN_WINDOW) this.writtenDelays.shift();
  }

  /** A stamped frame decoded `delayMs` after its capture, the hold it was given included. */
  videoFrame(delayMs: number): void {
    this.videoDelays.push(delayMs - this.hold);
    if (this.videoDelays.length > VIDEO_WINDOW) this.videoDelays.shift();
  }

  /** The picture's own delay (median, hold removed), null before a stamped frame. */
  get videoDelay(): number | null {
    return this.videoDelays.length === 0 ? null : median(this.videoDelays);
  }

  /** The sound's own delay (transit floor and jitter room, the picture left out), null before the first packet. */
  get ownDelay(): number | null {
    return this.own;
  }

  /** The delay at which frames are written to the sink, null before the first packet. */
  get target(): number | null {
    if (this.own === null) return null;
    const video = this.videoDelay;
    return video === null ? this.own : Math.max(this.own, video - this.sink.latencyMs);
  }

  /** How long the picture waits before its decoder so it shows with its sound (0 where nothing is heard). */
  get videoHoldMs(): number {
    const video = this.videoDelay;
    if (this.sink.kind !== 'pulse' || video === null || this.own === null) return 0;
    const sound = this.writtenDelays.length > 0 ? median(this.writtenDelays) : this.own;
    const wanted = Math.max(0, Math.min(MAX_VIDEO_HOLD_MS, sound + this.sink.latencyMs - video));
    if (Math.abs(wanted - this.hold) >= HOLD_STEP_MS) this.hold = wanted;
    return this.hold;
  }

  /** The picture's delay as shown (its own plus the hold). */
  get shownVideoDelay(): number | null {
    const video = this.videoDelay;
    return video === null ? null : video + this.hold;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
