import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readStamp, stampAgeMs, stampFilters, STAMP_BITS, STAMP_BLOCK, STAMP_COLUMNS, STAMP_STRIP_BYTES, STAMP_STRIP_WIDTH, writeStamp } from '../../../src/core/sessions/stamp';

/** A strip of flat blocks at these gray levels (bit order), as a decoder gives it back. */
function stripOfLevels(levels: number[]): Uint8Array {
  const strip = new Uint8Array(STAMP_STRIP_BYTES);
  levels.forEach((level, bit) => {
    const row = Math.floor(bit / STAMP_COLUMNS);
    const column = bit % STAMP_COLUMNS;
    for (let dy = 0; dy < STAMP_BLOCK; dy += 1) strip.fill(level, (row * STAMP_BLOCK + dy) * STAMP_STRIP_WIDTH + column * STAMP_BLOCK, (row * STAMP_BLOCK + dy) * STAMP_STRIP_WIDTH + (column + 1) * STAMP_BLOCK);
  });
  return strip;
}

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

  // The first frame of an encoder run, an IDR squeezed into the one-frame VBV, has the strip at QP 51: libx264
  // (ultrafast, zerolatency, intra-refresh, 640x360 at 553 kbit/s) gave these blocks back, each flat. The
  // values are the next frame's stamp less the frame interval; each strip was read as unreadable before.
  it.each([
    { ms: 1391464447, levels: [163, 163, 163, 163, 163, 163, 163, 163, 163, 163, 163, 163, 82, 65, 65, 65, 16, 16, 16, 16, 245, 245, 245, 245, 16, 245, 16, 16, 245, 16, 245, 16] },
    { ms: 1391474826, levels: [82, 163, 82, 163, 82, 82, 82, 163, 82, 82, 82, 163, 163, 163, 82, 82, 16, 16, 16, 16, 245, 245, 245, 245, 16, 245, 16, 16, 245, 16, 245, 16] },
    { ms: 1391528903, levels: [163, 163, 163, 98, 98, 98, 163, 163, 163, 163, 98, 163, 98, 98, 98, 98, 228, 33, 33, 33, 228, 228, 228, 228, 33, 228, 33, 33, 228, 33, 228, 33] },
    { ms: 1391462524, levels: [33, 33, 179, 179, 179, 179, 179, 16, 16, 16, 16, 179, 16, 16, 16, 16, 16, 16, 16, 16, 245, 245, 245, 245, 16, 245, 16, 16, 245, 16, 245, 16] },
  ])('reads the coarse strip of a starved first frame ($ms)', ({ ms, levels }) => {
    expect(readStamp(stripOfLevels(levels))).toEqual({ ok: true, ms });
  });

  it('calls a damaged strip unreadable instead of guessing', () => {
    const gray = new Uint8Array(STAMP_STRIP_BYTES).fill(128);
    const read = readStamp(gray);
    expect(read.ok).toBe(false);
    // one block near the middle, as a smeared one: no guess either
    const oneGray = Array.from({ length: STAMP_BITS }, (_, bit) => (bit === 5 ? 120 : (0xdeadbeef >>> bit) & 1 ? 235 : 16));
    expect(readStamp(stripOfLevels(oneGray)).ok).toBe(false);
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
