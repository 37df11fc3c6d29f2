import { describe, expect, it } from 'vitest';
import type { PlayedFrame } from '../../../src/core/audio/audio-playout';
import type { AudioSink } from '../../../src/core/audio/audio-sink';
import { FRAME_BYTES } from '../../../src/core/audio/opus-lib';
import { SinkFeeder } from '../../../src/core/audio/sink-feeder';
import { preciseNow } from '../../../src/core/pairing/channel';

/** A sink that records what it is handed (the sound server's side is tested for real in audio-loop). */
function recordingSink(kind: 'pulse' | 'none', latencyMs: number): AudioSink & { writes: Buffer[] } {
  const writes: Buffer[] = [];
  return { kind, why: null, latencyMs, framesWritten: 0, framesDropped: 0, underruns: 0, queuedBytes: 0, writes, write: (pcm: Buffer) => void writes.push(pcm), close: async () => undefined } as AudioSink & { writes: Buffer[] };
}

function frame(at: number, fill: number): PlayedFrame {
  const pcm = Buffer.alloc(FRAME_BYTES);
  pcm.fill(fill, 0, FRAME_BYTES / 2);
  pcm.fill(fill + 1, FRAME_BYTES / 2);
  return { pcm, source: 'packet', hostMs: at - 30, at };
}

describe('SinkFeeder', () => {
  it('feeds a sound server in halves: the first at once, the second once its 5 ms have come', () => {
    const sink = recordingSink('pulse', 20);
    const feeder = new SinkFeeder(sink);
    const now = preciseNow();
    const written = feeder.feed([frame(now, 1)], now);
    expect(written).toHaveLength(1);
    expect(sink.writes.map((pcm) => [pcm.length, pcm[0]])).toEqual([[FRAME_BYTES / 2, 1]]);
    feeder.feed([], now + 4);
    expect(sink.writes).toHaveLength(1);
    feeder.feed([], now + 5);
    expect(sink.writes.map((pcm) => [pcm.length, pcm[0]])).toEqual([[FRAME_BYTES / 2, 1], [FRAME_BYTES / 2, 2]]);
  });

  it('a frame whose half is still waiting when the next comes sends the half first, in order', () => {
    const sink = recordingSink('pulse', 20);
    const feeder = new SinkFeeder(sink);
    const now = preciseNow();
    feeder.feed([frame(now, 1), frame(now + 1, 3)], now + 1);
    expect(sink.writes.map((pcm) => pcm[0])).toEqual([1, 2, 3]);
  });

  it('a frame past its time to be heard is not written, and the episode is one underrun however many frames it spans', () => {
    const sink = recordingSink('pulse', 20);
    const feeder = new SinkFeeder(sink);
    const now = preciseNow();
    const written = feeder.feed([frame(now - 50, 1), frame(now - 40, 3), frame(now - 30, 5), frame(now, 7)], now);
    expect(written.map((f) => f.pcm[0])).toEqual([7]);
    expect(feeder.stale).toBe(3);
    expect(feeder.underruns).toBe(1);
    expect(sink.writes.map((pcm) => pcm[0])).toEqual([7]);
    // still behind on the next poll: the same episode
    feeder.feed([frame(now - 25, 9)], now);
    expect(feeder.underruns).toBe(1);
    feeder.feed([frame(now + 10, 11)], now + 10);
    feeder.feed([frame(now - 30, 13)], now + 10);
    expect(feeder.underruns).toBe(2);
  });

  it('a half frame (the playout\'s 5 ms step) is written as it is, with no second half after it', () => {
    const sink = recordingSink('pulse', 20);
    const feeder = new SinkFeeder(sink);
    const now = preciseNow();
    const half = frame(now, 1);
    feeder.feed([{ ...half, pcm: half.pcm.subarray(FRAME_BYTES / 2) }], now);
    feeder.feed([], now + 5);
    expect(sink.writes.map((pcm) => [pcm.length, pcm[0]])).toEqual([[FRAME_BYTES / 2, 2]]);
    expect(feeder.halfAt).toBeNull();
  });

  it('a sink that plays nothing (headless) is handed whole frames, late or not, and never underruns', () => {
    const sink = recordingSink('none', 0);
    const feeder = new SinkFeeder(sink);
    const now = preciseNow();
    const written = feeder.feed([frame(now - 50, 1), frame(now, 3)], now);
    expect(written).toHaveLength(2);
    expect(sink.writes.map((pcm) => pcm.length)).toEqual([FRAME_BYTES, FRAME_BYTES]);
    expect(feeder.stale).toBe(0);
    expect(feeder.underruns).toBe(0);
  });
});
