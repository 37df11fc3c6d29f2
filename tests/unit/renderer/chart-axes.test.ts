import { describe, expect, it } from 'vitest';
import { chartNote, formatFigure, latestValue, unitAxes } from '../../../src/renderer/src/metrics/chart-axes';

describe('charts: every axis says its unit', () => {
  it('one unit: one left axis labelled with it', () => {
    const { scaleOf, axes } = unitAxes([{ key: 'p50Ms', label: 'p50', unit: 'ms' }, { key: 'p95Ms', label: 'p95', unit: 'ms' }]);
    expect(axes).toEqual([{ scale: 'y', label: 'ms', side: 'left' }]);
    expect(scaleOf).toEqual(['y', 'y']);
  });
  it('two units: the second on its own right axis (°C and W; % and a count named by its series)', () => {
    expect(unitAxes([{ key: 't', label: 'Temperature', unit: '°C' }, { key: 'p', label: 'Power', unit: 'W' }]).axes.map((a) => [a.label, a.side])).toEqual([['°C', 'left'], ['W', 'right']]);
    const encoder = unitAxes([{ key: 'e', label: 'Encoder', unit: '%' }, { key: 'd', label: 'Decoder', unit: '%' }, { key: 's', label: 'Sessions', unit: '' }]);
    expect(encoder.axes.map((a) => a.label)).toEqual(['%', 'sessions']);
    expect(encoder.scaleOf[2]).toBe(encoder.axes[1]!.scale);
    expect(unitAxes([{ key: 'l', label: 'Packets lost', unit: '/s' }]).axes[0]!.label).toBe('per second');
  });
});

describe('charts: the legend shows figures before any hover', () => {
  it('the newest value of a column, with its unit', () => {
    expect(latestValue([1, 2, null])).toBe(2);
    expect(latestValue([null, null])).toBeNull();
    expect(formatFigure(latestValue([3.14159]), 'ms')).toBe('3.1 ms');
    expect(formatFigure(0.564, 'Mbit/s')).toBe('0.6 Mbit/s');
    expect(formatFigure(2, '')).toBe('2');
    expect(formatFigure(null, 'W')).toBe('—');
  });
});

describe('charts: an empty chart says why', () => {
  const notes = { none: 'nothing measured', zero: 'a clean link' };
  it('no value at all, or all zero on a chart of losses; nothing when there is a line to see', () => {
    expect(chartNote([[1, 2], [null, null]], notes)).toBe('nothing measured');
    expect(chartNote([[1, 2], [0, 0], [0, null]], notes)).toBe('a clean link');
    expect(chartNote([[1, 2], [0, 3]], notes)).toBeNull();
    // a chart where zero is a figure to see (utilization at 0 %) has no zero note
    expect(chartNote([[1, 2], [0, 0]], { none: 'no samples' })).toBeNull();
    expect(chartNote([[]], { none: 'no samples' })).toBe('no samples');
  });
});
