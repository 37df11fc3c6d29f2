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
