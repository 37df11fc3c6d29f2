import { SeqExtender } from '../rtp/seq';
import { FRAME_MS } from './opus-lib';

export interface FrameDecoder {
  decode(packet: Buffer): Buffer | null;
  recover(next: Buffer): Buffer | null;
  conceal(): Buffer;
}

/** How a played frame came to be. */
export type FrameSource = 'packet' | 'nack' | 'fec' | 'concealed';

export interface PlayedFrame {
  /** 10 ms of sound, or its second half alone where the playout stepped 5 ms sooner. */
  pcm: Buffer;
  source: FrameSource;
  /** The host time its sound was captured (ms, host clock). */
  hostMs: number;
  /** When it was due to be written to the sink (local ms). */
  at: number;
}

export interface PlayoutCounters {
  /** Packets that arrived the first time, in time to play. */
  received: number;
  /** Packets missing at their first try (lost or late) before any repair. */
  lost: number;
  recoveredFec: number;
  recoveredNack: number;
  concealedMs: number;
  /** Arrived after their turn to play (counted in `lost` if never played). */
  late: number;
  /** Frames dropped or inserted to follow the target delay. */
  adjusted: number;
  /** Times the stream stopped coming (nothing to play, not even to conceal): playout waited for it. */
  pauses: number;
}

interface Held {
  payload: Buffer;
  hostMs: number;
  resent: boolean;
}

/** Past this many frames beyond the newest packet, the stream is taken as paused: playout stops (no endless concealment). */
const PAUSE_AFTER_FRAMES = 5;
/**
 * How far the delay may stray from its target before a frame is dropped or repeated (ms): more than half a
 * frame, so that the 10 ms step of a drop or a repeat never lands past the other side; not much more,
 * since every ms of it above the target is heard late (15 ms here played the sound 7 ms late at p50).
 */
export const DELAY_TOLERANCE_MS = 6;
/**
 * Above the target by more than this (ms) and short of DELAY_TOLERANCE_MS, or where a whole frame's step
 * would land below the least delay, the first half of a frame is skipped instead (a 5 ms step, the sink is
 * fed in halves): a target that came down otherwise left the sound up to 10 ms late for good (bench/latency:
 * played 7 ms over a target a whole step could not reach without going under the least). More than half
 * of that step, so that a step never lands past the other side.
 */
export const HALF_STEP_ABOVE_MS = 3;
/**
 * How long a frame whose packet has not come is waited for past its turn (ms), while nothing at or after it
 * has come either (the stream running late, not a packet lost): played that late, it takes the time from
 * what the sink holds, which the next frames, on time, give back. The jitter room above the transit floor
 * (playout-delay.ts) is this much shorter for it: the packets that come later than their turn are as few
 * as before, and the rest are heard this much sooner.
 */
export const LATE_GRACE_MS = 4;
/** Packets held at most (a bound on memory against a flood of authenticated but far-ahead packets). */
const MAX_HELD = 200;

/**
 * The peer's jitter buffer: packets by sequence, played one 10 ms frame at a time at
 * `hostMs + targetDelay` on the local clock (the delay includes the clocks' offset, which cancels against
 * the video's). A missing frame is rebuilt from the next packet's in-band FEC when that is there, else
 * concealed; every choice is counted. The target delay is set from outside (the path's transit floor plus
 * jitter room, or the picture's delay when that is longer), and followed by dropping or repeating a frame.
 */
export class AudioPlayout {
  readonly counters: PlayoutCounters = { received: 0, lost: 0, recoveredFec: 0, recoveredNack: 0, concealedMs: 0, late: 0, adjusted: 0, pauses: 0 };
  private readonly seqs = new SeqExtender();
  private readonly held = new Map<number, Held>();
  /** The next frame to play (extended seq) and its local play time; null while paused. */
  private next: { seq: number; at: number; hostMs: number } | null = null;
  private targetDelayMs: number;
  private leastDelayMs = -Infinity;
  /** Frames played in a row past the newest packet so far (concealed while the stream may have stopped). */
  private beyondNewest = 0;

  constructor(
    private readonly decoder: FrameDecoder,
    initialDelayMs: number,
  ) {
    this.targetDelayMs = initialDelayMs;
  }

  /**
   * The delay to follow, and the least one allowed (`leastMs`: the transit floor plus FEC's room on a lossy
   * path), which the tolerance may not stray below: a delay a few ms short of FEC's room rebuilds nothing.
   */
  setTargetDelay(ms: number, leastMs = -Infinity): void {
    this.targetDelayMs = ms;
    this.leastDelayMs = leastMs;
  }

  get targetDelay(): number {
    return this.targetDelayMs;
  }

  /** Where the next frame to play stands, for NACK timing: the local time seq `ext` would be played, or null. */
  deadline(seq16: number): number | null {
    const ext = this.seqs.peek(seq16);
    if (ext === null || !this.next) return null;
    return this.next.at + (ext - this.next.seq) * FRAME_MS;
  }

  /** An authenticated packet. `resent`: it answers our NACK. Returns the extended seqs now missing between the last highest and this one. */
  insert(seq16: number, payload: Buffer, hostMs: number, now: number, resent: boolean): number[] {
    const before = this.seqs.max;
    const ext = this.seqs.extend(seq16);
    if (this.next && ext < this.next.seq) {
      this.counters.late += 1;
      return [];
    }
    if (this.held.size >= MAX_HELD) return [];
    if (!this.held.has(ext)) this.held.set(ext, { payload, hostMs, resent });
    if (!this.next) this.next = { seq: ext, at: hostMs + this.targetDelayMs, hostMs };
    void now;
    const missing: number[] = [];
    if (before !== null && ext > before + 1) for (let seq = before + 1; seq < ext && missing.length < 32; seq += 1) missing.push(seq);
    return missing;
  }

  /** When poll should next be called (local ms): the next frame's turn, or the end of its grace once that has come; null while paused. */
  nextAt(now: number): number | null {
    if (!this.next) return null;
    return this.next.at > now ? this.next.at : this.next.at + LATE_GRACE_MS;
  }

  /** The frames whose time has come by `now` (local ms), in order (one whose packet is late waits LATE_GRACE_MS for it). */
  poll(now: number): PlayedFrame[] {
    const out: PlayedFrame[] = [];
    while (this.next && this.next.at <= now) {
      const highest = this.seqs.max!;
      if (this.next.seq > highest + PAUSE_AFTER_FRAMES) {
        // the host has stopped sending (silence, a pause): wait for it to start again
        this.next = null;
        this.counters.pauses += 1;
        // the frames concealed past the newest packet were never sent (yet): concealed, but not lost
        this.counters.lost -= this.beyondNewest;
        this.beyondNewest = 0;
        for (const seq of this.held.keys()) if (seq <= highest) this.held.delete(seq);
        break;
      }
      if (this.next.seq > highest && now - this.next.at < LATE_GRACE_MS) break;
      const frame = { ...this.playOne(this.next.seq), at: this.next.at };
      this.beyondNewest = this.next.seq > highest ? this.beyondNewest + 1 : 0;
      const played = this.next;
      // follow the target: the delay this frame actually had vs the one wanted
      const delay = played.at - frame.hostMs;
      let step = FRAME_MS;
      if (delay > this.targetDelayMs + DELAY_TOLERANCE_MS && delay - FRAME_MS >= this.leastDelayMs) {
        // too late: skip the following frame (one 10 ms step shorter)
        this.held.delete(played.seq + 1);
        this.next = { seq: played.seq + 2, at: played.at + FRAME_MS, hostMs: frame.hostMs + 2 * FRAME_MS };
        this.counters.adjusted += 1;
        out.push(frame);
        continue;
      }
      if (delay > this.targetDelayMs + HALF_STEP_ABOVE_MS && delay - FRAME_MS / 2 >= this.leastDelayMs) {
        // a little late: play this frame's second half alone (5 ms sooner from here on)
        out.push({ ...frame, pcm: frame.pcm.subarray(frame.pcm.length / 2), hostMs: frame.hostMs + FRAME_MS / 2 });
        this.next = { seq: played.seq + 1, at: played.at + FRAME_MS / 2, hostMs: frame.hostMs + FRAME_MS };
        this.counters.adjusted += 1;
        continue;
      }
      if (delay < this.targetDelayMs - DELAY_TOLERANCE_MS || delay < this.leastDelayMs) {
        // too early: play this frame's concealment once more before moving on
        step = 2 * FRAME_MS;
        out.push(frame, { pcm: this.decoder.conceal(), source: 'concealed', hostMs: frame.hostMs, at: played.at + FRAME_MS });
        this.counters.adjusted += 1;
      } else {
        out.push(frame);
      }
      this.next = { seq: played.seq + 1, at: played.at + step, hostMs: frame.hostMs + FRAME_MS };
    }
    return out;
  }

  private playOne(seq: number): Omit<PlayedFrame, 'at'> {
    const held = this.held.get(seq);
    this.held.delete(seq);
    const expectedHostMs = this.next!.hostMs;
    if (held) {
      if (held.resent) {
        this.counters.lost += 1;
        this.counters.recoveredNack += 1;
      } else {
        this.counters.received += 1;
      }
      const pcm = this.decoder.decode(held.payload);
      if (pcm) return { pcm, source: held.resent ? 'nack' : 'packet', hostMs: held.hostMs };
      this.counters.concealedMs += FRAME_MS;
      return { pcm: this.decoder.conceal(), source: 'concealed', hostMs: held.hostMs };
    }
    this.counters.lost += 1;
    const following = this.held.get(seq + 1);
    const recovered = following ? this.decoder.recover(following.payload) : null;
    if (recovered) {
      this.counters.recoveredFec += 1;
      return { pcm: recovered, source: 'fec', hostMs: expectedHostMs };
    }
    this.counters.concealedMs += FRAME_MS;
    return { pcm: this.decoder.conceal(), source: 'concealed', hostMs: expectedHostMs };
  }
}
