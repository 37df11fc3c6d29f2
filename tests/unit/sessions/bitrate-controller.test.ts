import { describe, expect, it } from 'vitest';
import { BitrateController } from '../../../src/core/sessions/bitrate-controller';

const clean = { lossRatio: 0, lateRatio: 0, p95Ms: 20, rttMs: 1 };

describe('adaptive bitrate without delay figures (srt)', () => {
  it('steps down 25% on loss, holds for a while, and never goes below the floor', () => {
    const c = new BitrateController(8000, 2000, 4000);
    expect(c.observe(clean, 0)).toBeNull();
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 1000)).toMatchObject({ from: 8000, to: 6000, reason: expect.stringContaining('lost') });
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 2000)).toBeNull();
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 5000)).toMatchObject({ to: 4500 });
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 9000)).toMatchObject({ to: 3375 });
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 13000)).toMatchObject({ to: 2531 });
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 17000)).toMatchObject({ to: 2000 });
    expect(c.observe({ ...clean, lossRatio: 0.08 }, 21000)).toBeNull();
  });

  it('reads many retransmitted frames as loss, and a growing queue as congestion', () => {
    const c = new BitrateController(8000, 1000, 0);
    // one slow second is a busy CPU; two in a row is the network
    expect(c.observe({ ...clean, lateRatio: 0.3 }, 0)).toBeNull();
    expect(c.observe({ ...clean, lateRatio: 0.3 }, 1000)).toMatchObject({ to: 6000, reason: expect.stringContaining('retransmitted') });
    const d = new BitrateController(8000, 1000, 0);
    d.observe(clean, 0);
    expect(d.observe({ ...clean, p95Ms: 400 }, 1000)).toBeNull();
    expect(d.observe(clean, 2000)).toBeNull();
    expect(d.observe({ ...clean, p95Ms: 400 }, 3000)).toBeNull();
    expect(d.observe({ ...clean, p95Ms: 400 }, 4000)).toMatchObject({ to: 6000, reason: expect.stringContaining('p95') });
  });

  it('steps down on SRT\'s own packet loss (repaired or not) over 2%', () => {
    const c = new BitrateController(8000, 1000, 0);
    expect(c.observe({ ...clean, packetLossRatio: 0.01 }, 0)).toBeNull();
    expect(c.observe({ ...clean, packetLossRatio: 0.05 }, 1000)).toMatchObject({ to: 6000, reason: 'the link lost 5.0% of packets (repaired or not)' });
  });

  it('steps back up 10% after 10 clean seconds, not above the request', () => {
    const c = new BitrateController(8000, 1000, 0);
    c.observe({ ...clean, lossRatio: 0.5 }, 0);
    expect(c.current).toBe(6000);
    let step = null;
    for (let s = 1; s <= 10 && !step; s += 1) step = c.observe(clean, s * 1000);
    expect(step).toMatchObject({ from: 6000, to: 6600 });
    for (let s = 11; s < 200; s += 1) c.observe(clean, s * 1000);
    expect(c.current).toBe(8000);
  });
});
