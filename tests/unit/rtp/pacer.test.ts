import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Pacer, pacingFactorFromEnv } from '../../../src/core/rtp/pacer';

// The pacer on a fake clock: what leaves when is decided by its arithmetic alone.
describe('the rtp pacer', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  function paced(targetKbps: number, fps = 60) {
    const sent: { at: number; packet: Buffer }[] = [];
    const pacer = new Pacer((packet) => sent.push({ at: Date.now(), packet }), { targetKbps, fps, factor: 1.5 }, () => Date.now());
    return { pacer, sent };
  }

  it('lets an ordinary frame leave at once', () => {
    // 8 Mbit/s at 60 fps: an average frame is 16.7 kB, the burst one of them
    const { pacer, sent } = paced(8000);
    for (let i = 0; i < 13; i += 1) pacer.push(Buffer.alloc(1200));
    expect(sent).toHaveLength(13);
    expect(pacer.delayed).toBe(0);
    pacer.close();
  });

  it('spreads a keyframe at 1.5 times the target past the burst, in order, and sends all of it', () => {
    const { pacer, sent } = paced(8000);
    // ten average frames' worth
    const count = 140;
    for (let i = 0; i < count; i += 1) pacer.push(Buffer.alloc(1200, i));
    expect(sent.length).toBeLessThan(30);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(count);
    expect(sent.map((s) => s.packet[0])).toEqual(Array.from({ length: count }, (_, i) => i));
    // 1.5 * 8000 kbit/s = 1500 bytes a ms: never more than the burst plus that rate since the start
    const burst = (8000 * 1000) / 8 / 60;
    let bytes = 0;
    for (const s of sent) {
      bytes += s.packet.length;
      expect(bytes).toBeLessThanOrEqual(burst + 1500 * s.at + 1200);
    }
    // and it did not dawdle: the last packet left about when the rate allows
    expect(sent.at(-1)!.at).toBeLessThanOrEqual(Math.ceil((count * 1200 - burst) / 1500) + 2);
    pacer.close();
  });

  it('never paces faster than the link carried when it was last full, nor slower than just over the target', () => {
    // a 72 kB keyframe of a 3600 kbit/s stream (gone within the 200 ms a packet may wait at any of these rates)
    const lastLeaves = (linkKbps: number | null) => {
      const at: number[] = [];
      const pacer = new Pacer(() => at.push(Date.now()), { targetKbps: 3600, fps: 60, factor: 1.5, linkKbps }, () => Date.now());
      for (let i = 0; i < 60; i += 1) pacer.push(Buffer.alloc(1200));
      vi.advanceTimersByTime(1000);
      pacer.close();
      expect(at).toHaveLength(60);
      return at.at(-1)! - at[0]!;
    };
    // 1.5x the target is 5400 kbit/s; through a link that carried 4400 when full it leaves at 4400 (about 20% longer)
    const free = lastLeaves(null);
    expect(lastLeaves(4400)).toBeGreaterThanOrEqual(free * 1.15);
    // a link rate known below the target (an old figure) does not hold the stream under 1.15 times it
    expect(lastLeaves(1000)).toBeLessThanOrEqual(free * 1.35);
    expect(lastLeaves(1000)).toBe(lastLeaves(3600 * 1.15));
  });

  it('sends urgent packets (retransmissions) ahead of the queue', () => {
    const { pacer, sent } = paced(2000);
    for (let i = 0; i < 40; i += 1) pacer.push(Buffer.alloc(1200, 1));
    pacer.push(Buffer.alloc(1200, 9), true);
    const before = sent.length;
    vi.advanceTimersByTime(2);
    expect(sent[before]!.packet[0]).toBe(9);
    pacer.close();
  });

  it('never keeps a backlog much past 200 ms, whatever the target says', () => {
    const { pacer, sent } = paced(1000);
    // two seconds of a 1 Mbit/s target pushed at once
    for (let i = 0; i < 210; i += 1) pacer.push(Buffer.alloc(1200));
    vi.advanceTimersByTime(199);
    expect(sent.length).toBeLessThan(210);
    vi.advanceTimersByTime(2);
    expect(sent).toHaveLength(210);
    pacer.close();
  });

  it('holds nothing against later frames for a backlog it sent for its age', () => {
    const { pacer, sent } = paced(1000);
    for (let i = 0; i < 210; i += 1) pacer.push(Buffer.alloc(1200));
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(210);
    // a second later the bucket is full again: an ordinary frame leaves at once
    const before = sent.length;
    for (let i = 0; i < 3; i += 1) pacer.push(Buffer.alloc(1200));
    expect(sent.length - before).toBe(3);
    pacer.close();
  });

  it('follows a new target', () => {
    const { pacer, sent } = paced(1000);
    for (let i = 0; i < 100; i += 1) pacer.push(Buffer.alloc(1200));
    pacer.setTarget({ targetKbps: 100_000, fps: 60, factor: 1.5 });
    // 1.5 * 100 Mbit/s is 18.75 kB a ms: the 108 kB left go in 6 ms, not the 576 ms of the old rate
    vi.advanceTimersByTime(8);
    expect(sent).toHaveLength(100);
    pacer.close();
  });

  it('reads its switch from the environment', () => {
    expect(pacingFactorFromEnv({})).toBe(1.5);
    expect(pacingFactorFromEnv({ GPU_BRIDGE_RTP_PACING: 'off' })).toBeNull();
    expect(pacingFactorFromEnv({ GPU_BRIDGE_RTP_PACING: '0' })).toBeNull();
    expect(pacingFactorFromEnv({ GPU_BRIDGE_RTP_PACING: '2.5' })).toBe(2.5);
    expect(() => pacingFactorFromEnv({ GPU_BRIDGE_RTP_PACING: 'fast' })).toThrow(/GPU_BRIDGE_RTP_PACING/);
  });
});
