import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../../src/core/metrics/ring-buffer';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` points, oldest first, nulls preserved', () => {
    const r = new RingBuffer(3);
    expect(r.last()).toBeNull();
    r.push(1, 10);
    r.push(2, null);
    expect(r.toArrays()).toEqual({ t: [1, 2], v: [10, null] });
    r.push(3, 30);
    r.push(4, 40);
    expect(r.size).toBe(3);
    expect(r.toArrays()).toEqual({ t: [2, 3, 4], v: [null, 30, 40] });
    expect(r.toArrays(3)).toEqual({ t: [3, 4], v: [30, 40] });
    expect(r.last()).toEqual({ t: 4, v: 40 });
  });
  it('matches a plain array model for any sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.option(fc.integer(), { nil: null }), { maxLength: 100 }), (cap, values) => {
        const r = new RingBuffer(cap);
        values.forEach((v, i) => r.push(i, v));
        const model = values.map((v, i) => [i, v] as const).slice(-cap);
        expect(r.toArrays()).toEqual({ t: model.map((m) => m[0]), v: model.map((m) => m[1]) });
      }),
    );
  });
  it('does not grow: 1 h at 1 Hz stays 3600 points', () => {
    const r = new RingBuffer(3600);
    for (let i = 0; i < 10_000; i += 1) r.push(i, i);
    expect(r.size).toBe(3600);
    expect(r.toArrays().t[0]).toBe(6400);
  });
  it('rejects a bad capacity', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});
