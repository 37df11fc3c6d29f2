import { describe, expect, it } from 'vitest';
import type { MetricSample } from '../../../src/shared/contract';
import { ChartWindow } from '../../../src/renderer/src/metrics/chart-window';
import { LiveSeries } from '../../../src/renderer/src/metrics/live-series';

const A = '0000:01:00.0';
const sample = (s: number, values: MetricSample['values']): MetricSample => ({ t: s * 1000, address: A, values });

describe('ChartWindow: a chart\'s columns kept in place', () => {
  it('matches LiveSeries.columns after every append, within the window, scaled', () => {
    const live = new LiveSeries();
    const chart = new ChartWindow(live, A, ['gpuUtilPercent', 'memoryUsedBytes'], 5, { memoryUsedBytes: 1 / 1024 });
    const arrays = chart.data.map((column) => column);
    for (let s = 1; s <= 12; s += 1) {
      live.append([sample(s, { gpuUtilPercent: s % 3 === 0 ? null : s, memoryUsedBytes: s * 1024 })]);
      chart.sync();
      expect(chart.data).toEqual(live.columns(A, ['gpuUtilPercent', 'memoryUsedBytes'], 5, { memoryUsedBytes: 1 / 1024 }));
    }
    expect(chart.data[0]).toEqual([7, 8, 9, 10, 11, 12]);
    expect(chart.data[1]).toEqual([7, 8, null, 10, 11, null]);
    expect(chart.data.every((column, i) => column === arrays[i])).toBe(true); // the same arrays, updated in place
  });

  it('takes every point of a batch, and says when nothing changed', () => {
    const live = new LiveSeries();
    const chart = new ChartWindow(live, A, ['temperatureC'], 60);
    expect(chart.sync()).toBe(false); // no such GPU yet
    live.append([sample(1, { temperatureC: 40 }), sample(2, { temperatureC: 41 }), sample(3, { temperatureC: 42 })]);
    expect(chart.sync()).toBe(true);
    expect(chart.sync()).toBe(false);
    live.append([sample(4, { temperatureC: 43 }), sample(5, {})]);
    expect(chart.sync()).toBe(true);
    expect(chart.data).toEqual([[1, 2, 3, 4, 5], [40, 41, 42, 43, null]]);
  });

  it('starts over when the history is loaded again (a reconnection)', () => {
    const live = new LiveSeries();
    const chart = new ChartWindow(live, A, ['powerW'], 3600);
    live.append([sample(1, { powerW: 100 })]);
    chart.sync();
    const history = { address: A, name: null, t: [5000, 6000], values: { powerW: [200, 201] } };
    live.load([history]);
    expect(chart.sync()).toBe(true);
    expect(chart.data).toEqual([[5, 6], [200, 201]]);
  });
});

describe('LiveSeries rings and ChartWindow decimation', () => {
  it('keeps the last hour in fixed rings: the oldest points leave as new ones arrive', () => {
    const live = new LiveSeries();
    for (let s = 1; s <= 3700; s += 1) live.append([sample(s, { gpuUtilPercent: s % 100, ...(s > 3650 ? { powerW: s } : {}) })]);
    const ring = live.raw(A)!;
    expect(ring.length).toBe(3600);
    expect(live.latest(A, 'gpuUtilPercent')).toBe(0);
    expect(live.latest(A, 'powerW')).toBe(3700);
    const [t, util, power] = live.columns(A, ['gpuUtilPercent', 'powerW'], 3600);
    expect(t).toHaveLength(3600);
    expect(t[0]).toBe(101);
    expect(t[3599]).toBe(3700);
    expect(util![0]).toBe(1);
    expect(power![3548]).toBeNull(); // s = 3649: before powerW was first sent
    expect(power![3550]).toBe(3651);
    const chart = new ChartWindow(live, A, ['gpuUtilPercent', 'powerW'], 60);
    chart.sync();
    expect(chart.data).toEqual(live.columns(A, ['gpuUtilPercent', 'powerW'], 60));
  });

  it('decimates a long window to the min and max of each bucket, in the order they occurred, nulls kept as gaps', () => {
    const live = new LiveSeries();
    // 3600 s: a triangle wave of period 20 s; no value at all from 1000 s to 1099 s.
    for (let s = 0; s < 3600; s += 1) live.append([sample(s, { gpuUtilPercent: s >= 1000 && s < 1100 ? null : Math.abs((s % 20) - 10) })]);
    const chart = new ChartWindow(live, A, ['gpuUtilPercent'], 3600);
    chart.setBuckets(100); // 36 s buckets
    expect(chart.sync()).toBe(true);
    const [t, util] = chart.data;
    expect(t.length).toBeLessThanOrEqual(2 * 101);
    expect(t.length).toBeGreaterThan(150);
    for (let i = 1; i < t.length; i += 1) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
    const values = util!.filter((v): v is number => v !== null);
    expect(Math.min(...values)).toBe(0);
    expect(Math.max(...values)).toBe(10);
    expect(util!.some((v, i) => v === null && t[i]! >= 1008 && t[i]! < 1080)).toBe(true); // the empty bucket
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBe(3599);
    // Fewer points than two per bucket: every point, as without buckets.
    const short = new ChartWindow(live, A, ['gpuUtilPercent'], 60);
    short.setBuckets(100);
    short.sync();
    expect(short.data).toEqual(live.columns(A, ['gpuUtilPercent'], 60));
  });

  it('load keeps the last hour of a longer history and starts readers over', () => {
    const live = new LiveSeries();
    const t = Array.from({ length: 4000 }, (_, i) => i * 1000);
    live.load([{ address: A, t, values: { temperatureC: t.map((ms) => ms / 1000) } }]);
    expect(live.raw(A)!.length).toBe(3600);
    expect(live.columns(A, ['temperatureC'], 5)).toEqual([[3994, 3995, 3996, 3997, 3998, 3999], [3994, 3995, 3996, 3997, 3998, 3999]]);
  });
});
