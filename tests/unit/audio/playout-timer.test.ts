import { describe, expect, it } from 'vitest';
import { PlayoutTimer } from '../../../src/core/audio/playout-timer';
import { preciseNow } from '../../../src/core/pairing/channel';

describe('PlayoutTimer', () => {
  it('ticks once, at the earliest time asked and not before it; nothing asked, nothing armed', async () => {
    const ticks: number[] = [];
    const timer = new PlayoutTimer(() => ticks.push(preciseNow()));
    const now = preciseNow();
    timer.wakeAt(now, null);
    timer.wakeAt(now, now + 30, null);
    timer.wakeAt(now, now + 8.4, now + 20);
    timer.wakeAt(now, now + 12);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(ticks).toHaveLength(1);
    expect(ticks[0]!).toBeGreaterThanOrEqual(now + 8.4);
    timer.close();
  });

  it('once closed, arms nothing', async () => {
    let ticks = 0;
    const timer = new PlayoutTimer(() => (ticks += 1));
    timer.close();
    timer.wakeAt(preciseNow(), preciseNow());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ticks).toBe(0);
  });
});
