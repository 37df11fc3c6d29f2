import { describe, expect, it } from 'vitest';
import { AudioPlayout, DELAY_TOLERANCE_MS, HALF_STEP_ABOVE_MS, LATE_GRACE_MS } from '../../../src/core/audio/audio-playout';
import { FRAME_BYTES, FRAME_MS, OpusDecoder, OpusEncoder, opusUnavailable } from '../../../src/core/audio/opus-lib';

const unavailable = opusUnavailable();
if (unavailable) console.warn(`SKIP audio-playout: ${unavailable}`);

/** 10 ms frames of a 440 Hz tone, encoded by the real libopus with in-band FEC. */
function packets(count: number): Buffer[] {
  const encoder = new OpusEncoder();
  const out: Buffer[] = [];
  for (let frame = 0; frame < count; frame += 1) {
    const pcm = Buffer.alloc(FRAME_BYTES);
    for (let i = 0; i < FRAME_BYTES / 4; i += 1) {
      const sample = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (frame * 480 + i)) / 48_000));
      pcm.writeInt16LE(sample, i * 4);
      pcm.writeInt16LE(sample, i * 4 + 2);
    }
    out.push(encoder.encode(pcm));
  }
  encoder.close();
  return out;
}

describe.skipIf(unavailable !== null)('AudioPlayout (real libopus)', () => {
  it('plays every frame on time; a lost one comes back from the next one\'s FEC, two in a row: the second concealed', () => {
    const all = packets(60);
    const playout = new AudioPlayout(new OpusDecoder(), 20);
    const lost = new Set([10, 30, 31]);
    const played: string[] = [];
    for (let i = 0; i < all.length; i += 1) {
      const hostMs = 1000 + i * FRAME_MS;
      if (!lost.has(i)) playout.insert((65530 + i) & 0xffff, all[i]!, hostMs, hostMs + 1, false);
      for (const frame of playout.poll(hostMs + 1)) played.push(frame.source);
    }
    for (const frame of playout.poll(2000)) played.push(frame.source);
    expect(played.length).toBeGreaterThanOrEqual(58);
    const c = playout.counters;
    expect(c.lost).toBe(3);
    // 10 and 31 are rebuilt from 11's and 32's FEC; 30's successor is lost too: concealed; past the end,
    // five frames are concealed before the playout takes the stream as stopped (not counted as lost)
    expect(c.recoveredFec).toBe(2);
    expect(c.concealedMs).toBe(FRAME_MS + 5 * FRAME_MS);
    expect(c.pauses).toBe(1);
    expect(c.received).toBe(57);
  });

  it('a resend that comes before its turn counts as lost and recovered by NACK; one that comes after is late', () => {
    const all = packets(20);
    const playout = new AudioPlayout(new OpusDecoder(), 30);
    const hostMs = (i: number) => 5000 + i * FRAME_MS;
    for (let i = 0; i < 20; i += 1) {
      if (i !== 5 && i !== 12) playout.insert(i, all[i]!, hostMs(i), hostMs(i) + 1, false);
      if (i === 7) playout.insert(5, all[5]!, hostMs(5), hostMs(7) + 1, true);
      playout.poll(hostMs(i) + 1);
    }
    playout.poll(hostMs(12) + 31);
    playout.insert(12, all[12]!, hostMs(12), hostMs(12) + 40, true);
    playout.poll(6000);
    const c = playout.counters;
    expect(c.recoveredNack).toBe(1);
    expect(c.late).toBe(1);
    expect(c.lost).toBe(2);
  });

  it('follows its target within DELAY_TOLERANCE_MS: a frame repeated to play later, one skipped to play sooner', () => {
    const all = packets(200);
    const playout = new AudioPlayout(new OpusDecoder(), 20);
    const delays: number[] = [];
    for (let i = 0; i < all.length; i += 1) {
      const hostMs = 1000 + i * FRAME_MS;
      if (i === 50) playout.setTargetDelay(45);
      if (i === 120) playout.setTargetDelay(20);
      playout.insert(i, all[i]!, hostMs, hostMs + 1, false);
      for (const frame of playout.poll(hostMs + 1)) delays.push(frame.at - frame.hostMs);
      if (i === 110) expect(Math.abs(delays.at(-1)! - 45)).toBeLessThanOrEqual(DELAY_TOLERANCE_MS);
    }
    expect(Math.abs(delays.at(-1)! - 20)).toBeLessThanOrEqual(DELAY_TOLERANCE_MS);
    expect(playout.counters.adjusted).toBeGreaterThanOrEqual(4);
  });

  it('a target a whole frame\'s step cannot reach without going under the least is reached by a half frame\'s step', () => {
    const all = packets(40);
    const playout = new AudioPlayout(new OpusDecoder(), 20);
    const played: Array<{ delay: number; bytes: number }> = [];
    for (let i = 0; i < all.length; i += 1) {
      const hostMs = 1000 + i * FRAME_MS;
      // 20 − 10 would be under the least (12): only a 5 ms step fits
      if (i === 10) playout.setTargetDelay(13, 12);
      playout.insert(i, all[i]!, hostMs, hostMs + 1, false);
      for (const frame of playout.poll(hostMs + 1)) played.push({ delay: frame.at - frame.hostMs, bytes: frame.pcm.length });
    }
    expect(played.filter((frame) => frame.bytes === FRAME_BYTES / 2)).toHaveLength(1);
    expect(played.at(-1)!.delay).toBe(15);
    expect(played.at(-1)!.delay - 13).toBeLessThanOrEqual(HALF_STEP_ABOVE_MS);
    expect(Math.min(...played.map((frame) => frame.delay))).toBeGreaterThanOrEqual(12);
    expect(playout.counters.adjusted).toBe(1);
  });

  it('never plays below the least delay it is given (FEC\'s room), and does not swing around it', () => {
    const all = packets(200);
    const playout = new AudioPlayout(new OpusDecoder(), 10);
    const delays: number[] = [];
    for (let i = 0; i < all.length; i += 1) {
      const hostMs = 1000 + i * FRAME_MS;
      // a target 3 ms under the least: within the tolerance of the delay played so far, but not allowed
      if (i === 20) playout.setTargetDelay(13, 16);
      playout.insert(i, all[i]!, hostMs, hostMs + 1, false);
      for (const frame of playout.poll(hostMs + 1)) if (frame.source !== 'concealed') delays.push(frame.at - frame.hostMs);
    }
    expect(Math.min(...delays.slice(30))).toBeGreaterThanOrEqual(16);
    // one repeat to get above it, none back and forth after
    expect(playout.counters.adjusted).toBe(1);
  });

  it('a frame whose packet is late (nothing at or past it has come) waits LATE_GRACE_MS for it, then is concealed', () => {
    const all = packets(5);
    const playout = new AudioPlayout(new OpusDecoder(), 20);
    playout.insert(0, all[0]!, 100, 101, false);
    expect(playout.poll(120).map((f) => f.source)).toEqual(['packet']);
    // frame 1 is due at 130; its packet comes 3 ms later: played then, not concealed
    expect(playout.poll(130)).toEqual([]);
    expect(playout.nextAt(130)).toBe(130 + LATE_GRACE_MS);
    playout.insert(1, all[1]!, 110, 133, false);
    expect(playout.poll(133).map((f) => [f.source, f.at])).toEqual([['packet', 130]]);
    // frame 2 (due 140) never comes in time: concealed once its grace is over
    expect(playout.poll(140 + LATE_GRACE_MS - 0.5)).toEqual([]);
    expect(playout.poll(140 + LATE_GRACE_MS).map((f) => f.source)).toEqual(['concealed']);
    expect(playout.counters.late).toBe(0);
    playout.insert(2, all[2]!, 120, 145, false);
    expect(playout.counters.late).toBe(1);
  });

  it('stops when the stream stops (no endless concealment) and starts again with it', () => {
    const all = packets(10);
    const playout = new AudioPlayout(new OpusDecoder(), 20);
    for (let i = 0; i < 5; i += 1) playout.insert(i, all[i]!, 100 + i * 10, 101 + i * 10, false);
    const during = playout.poll(10_000);
    expect(during.length).toBeLessThan(15);
    expect(playout.counters.pauses).toBe(1);
    playout.insert(5, all[5]!, 10_000, 10_001, false);
    expect(playout.poll(10_025).map((f) => f.source)).toEqual(['packet']);
    expect(playout.counters.lost).toBe(0);
  });
});
