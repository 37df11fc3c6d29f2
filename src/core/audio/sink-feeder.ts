import { preciseNow } from '../pairing/channel';
import type { PlayedFrame } from './audio-playout';
import type { AudioSink } from './audio-sink';
import { FRAME_BYTES, FRAME_MS } from './opus-lib';

const HALF_FRAME_BYTES = FRAME_BYTES / 2;

/**
 * Hands the playout's frames to the sink the way a sound server that is fed in real time wants them, for
 * every receiver (rtp's and srt's): a frame past its time to be heard is not written (it would lengthen the
 * sink's queue for good: the sink never drains below what a burst put in it); a pulse sink is fed in halves
 * 5 ms apart (fed every 5 ms it runs dry 5 ms later than fed every 10, so it can hold 5 ms less); and an
 * episode of writing later than the sink's buffer reaches counts as one underrun, however many frames it spans.
 */
export class SinkFeeder {
  underruns = 0;
  /** Frames not written: their time to be heard had passed when the playout got to them. */
  stale = 0;
  private behind = false;
  private half: { pcm: Buffer; at: number } | null = null;

  constructor(private readonly sink: AudioSink) {}

  /** When the half frame still held is to be written (local ms), null when none is. */
  get halfAt(): number | null {
    return this.half?.at ?? null;
  }

  /** Writes what the playout gave at `now` (and a half frame whose time came); returns the frames written, each heard sink.latencyMs after `now`. */
  feed(frames: PlayedFrame[], now: number): PlayedFrame[] {
    const sink = this.sink;
    const pulse = sink.kind === 'pulse';
    const late = frames.some((frame) => now - frame.at > sink.latencyMs);
    if (late && !this.behind && pulse) this.underruns += 1;
    if (frames.length > 0) this.behind = late;
    this.writeHalf(now);
    const written: PlayedFrame[] = [];
    for (const frame of frames) {
      if (pulse && now - frame.at > sink.latencyMs) {
        this.stale += 1;
        continue;
      }
      if (pulse) {
        this.writeHalf(Infinity);
        sink.write(frame.pcm.subarray(0, HALF_FRAME_BYTES));
        // a half frame (the playout's 5 ms step) has no second half
        if (frame.pcm.length > HALF_FRAME_BYTES) this.half = { pcm: frame.pcm.subarray(HALF_FRAME_BYTES), at: frame.at + FRAME_MS / 2 };
      } else {
        sink.write(frame.pcm);
      }
      written.push(frame);
    }
    this.writeHalf(now);
    return written;
  }

  /** The second half of the last frame, once its time (`now`) has come; dropped where it is past its time to be heard. */
  private writeHalf(now: number): void {
    const half = this.half;
    if (!half || half.at > now) return;
    this.half = null;
    if (preciseNow() - half.at <= this.sink.latencyMs) this.sink.write(half.pcm);
  }
}
