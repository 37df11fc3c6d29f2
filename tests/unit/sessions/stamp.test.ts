import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readStamp, stampAgeMs, stampFilters, STAMP_BITS, STAMP_STRIP_BYTES, writeStamp } from '../../../src/core/sessions/stamp';

describe('latency stamp', () => {
  it('reads back every 32-bit value it writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (ms) => {
        const read = readStamp(writeStamp(ms));
        expect(read).toEqual({ ok: true, ms });
      }),
      { numRuns: 500 },
    );
  });

  it('survives mild noise, as after lossy coding', () => {
    const strip = writeStamp(0xdeadbeef);
    for (let i = 0; i < strip.length; i += 1) strip[i] = Math.max(0, Math.min(255, strip[i]! + ((i * 7919) % 61) - 30));
    expect(readStamp(strip)).toEqual({ ok: true, ms: 0xdeadbeef });
  });

  it('calls a damaged strip unreadable instead of guessing', () => {
    const gray = new Uint8Array(STAMP_STRIP_BYTES).fill(128);
    const read = readStamp(gray);
    expect(read.ok).toBe(false);
    expect(readStamp(new Uint8Array(10)).ok).toBe(false);
  });

  it('ages stamps across the 2^32 ms wrap and tolerates a clock slightly behind', () => {
    expect(stampAgeMs(100, 2 ** 32 * 5 + 120)).toBe(20);
    expect(stampAgeMs(2 ** 32 - 10, 2 ** 32 * 3 + 5)).toBe(15);
    expect(stampAgeMs(500, 2 ** 32 + 497)).toBe(-3);
  });

  it('draws one enabled box per bit, from the frame time in ms, escaped for the filter graph', () => {
    const filters = stampFilters();
    expect(filters[0]).toBe('pad=iw:ceil(ih/16)*16+32:0:0:black');
    expect(filters).toHaveLength(1 + STAMP_BITS);
    expect(filters[1]).toContain("enable='gt(bitand(floor(t*1000)\\,1)\\,0)'");
    expect(filters.at(-1)).toContain(`\\,${2 ** 31})`);
  });
});
