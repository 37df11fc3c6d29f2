import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REED_SOLOMON_SIMD, ReedSolomon } from '../../../src/core/rtp/reed-solomon';

if (!REED_SOLOMON_SIMD) console.warn('Reed-Solomon: WebAssembly SIMD is not available here; only the JavaScript kernel is tested');

/** k, m, equal-length data shards, and the indices (among k+m) to erase. */
function codeCase(erasures: 'recoverable' | 'too many') {
  return fc
    .record({ k: fc.integer({ min: 1, max: 48 }), m: fc.integer({ min: 0, max: 16 }), length: fc.integer({ min: 0, max: 64 }) })
    .chain(({ k, m, length }) =>
      fc.record({
        k: fc.constant(k),
        m: fc.constant(m),
        data: fc.array(fc.uint8Array({ minLength: length, maxLength: length }), { minLength: k, maxLength: k }),
        lost:
          erasures === 'recoverable'
            ? fc.uniqueArray(fc.integer({ min: 0, max: k + m - 1 }), { maxLength: m })
            : fc.uniqueArray(fc.integer({ min: 0, max: k + m - 1 }), { minLength: m + 1, maxLength: k + m }),
      }),
    );
}

function erase(data: Uint8Array[], parity: Uint8Array[], lost: number[]): (Uint8Array | null)[] {
  const shards: (Uint8Array | null)[] = [...data, ...parity].map((shard) => shard.slice());
  for (const index of lost) shards[index] = null;
  return shards;
}

describe('Reed-Solomon erasure code', () => {
  it('gives back the data from any k of the k+m shards', () => {
    fc.assert(
      fc.property(codeCase('recoverable'), ({ k, m, data, lost }) => {
        const code = new ReedSolomon(k, m);
        const parity = code.encode(data);
        expect(parity).toHaveLength(m);
        const shards = erase(data, parity, lost);
        expect(code.reconstruct(shards)).toBe(true);
        expect(shards.slice(0, k)).toEqual(data);
        // parity shards are not refilled, present ones untouched
        parity.forEach((shard, j) => expect(shards[k + j]).toEqual(lost.includes(k + j) ? null : shard));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses, leaving the lost data null, when more than m shards are lost', () => {
    fc.assert(
      fc.property(codeCase('too many'), ({ k, m, data, lost }) => {
        const code = new ReedSolomon(k, m);
        const shards = erase(data, code.encode(data), lost);
        expect(code.reconstruct(shards)).toBe(false);
        shards.slice(0, k).forEach((shard, i) => expect(shard).toEqual(lost.includes(i) ? null : data[i]));
      }),
      { numRuns: 200 },
    );
  });

  it('survives every erasure pattern of a small code', () => {
    const k = 5;
    const m = 3;
    const code = new ReedSolomon(k, m);
    const data = Array.from({ length: k }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (i * 37 + j * 11 + 1) & 0xff));
    const parity = code.encode(data);
    for (let mask = 0; mask < 1 << (k + m); mask += 1) {
      const lost = Array.from({ length: k + m }, (_, i) => i).filter((i) => mask & (1 << i));
      const shards = erase(data, parity, lost);
      const ok = code.reconstruct(shards);
      expect(ok).toBe(lost.length <= m);
      if (ok) expect(shards.slice(0, k)).toEqual(data);
    }
  });

  it('is linear: the parity of a xor b is the xor of the parities', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1000 }), (k, m, seed) => {
        const code = new ReedSolomon(k, m);
        const shard = (salt: number) => (_: unknown, i: number) => Uint8Array.from({ length: 16 }, (_, j) => (seed * (i + 1) * salt + j * 7) & 0xff);
        const a = Array.from({ length: k }, shard(3));
        const b = Array.from({ length: k }, shard(5));
        const xor = a.map((shardA, i) => shardA.map((byte, j) => byte ^ b[i]![j]!));
        const [pa, pb, px] = [code.encode(a), code.encode(b), code.encode(xor)];
        px.forEach((shard, j) => expect(shard).toEqual(pa[j]!.map((byte, n) => byte ^ pb[j]![n]!)));
      }),
      { numRuns: 50 },
    );
  });

  it('gives the same parity and recovery for shards that sit at odd offsets in their buffers', () => {
    fc.assert(
      fc.property(codeCase('recoverable'), fc.integer({ min: 1, max: 3 }), ({ k, m, data, lost }, offset) => {
        const shifted = (shard: Uint8Array) => {
          const backing = new Uint8Array(shard.length + offset);
          backing.set(shard, offset);
          return backing.subarray(offset);
        };
        const code = new ReedSolomon(k, m);
        const parity = code.encode(data);
        expect(code.encode(data.map(shifted))).toEqual(parity);
        const shards = erase(data, parity, lost).map((shard) => shard && shifted(shard));
        expect(code.reconstruct(shards)).toBe(true);
        expect(shards.slice(0, k)).toEqual(data);
      }),
      { numRuns: 100 },
    );
  });

  it('uses GF(2^8) modulo 0x11d and the Cauchy rows 1 / ((k + j) xor i)', () => {
    // row 0 of k=2 is (1/2, 1/3); 2 · 0x8e = 0x11c, which is 1 modulo 0x11d
    expect(Array.from(new ReedSolomon(2, 1).encode([Uint8Array.of(1), Uint8Array.of(0)])[0]!)).toEqual([0x8e]);
    expect(Array.from(new ReedSolomon(1, 1).encode([Uint8Array.of(1, 2, 3)])[0]!)).toEqual([1, 2, 3]);
  });

  it('accepts only 1 <= k, 0 <= m, k + m <= 255 and consistent shards', () => {
    expect(() => new ReedSolomon(1, 254)).not.toThrow();
    expect(() => new ReedSolomon(255, 0)).not.toThrow();
    expect(() => new ReedSolomon(0, 1)).toThrow(RangeError);
    expect(() => new ReedSolomon(1, -1)).toThrow(RangeError);
    expect(() => new ReedSolomon(200, 56)).toThrow(RangeError);
    expect(() => new ReedSolomon(2.5, 1)).toThrow(RangeError);
    const code = new ReedSolomon(2, 1);
    expect(() => code.encode([new Uint8Array(4)])).toThrow(RangeError);
    expect(() => code.encode([new Uint8Array(4), new Uint8Array(5)])).toThrow(RangeError);
    expect(() => code.reconstruct([null, new Uint8Array(4)])).toThrow(RangeError);
    expect(() => code.reconstruct([null, new Uint8Array(4), new Uint8Array(5)])).toThrow(RangeError);
  });

  it('codes the same in WebAssembly SIMD and in JavaScript, whole shards and recovery alike', () => {
    fc.assert(
      fc.property(codeCase('recoverable'), fc.integer({ min: 1, max: 40 }), ({ k, m, data, lost }, extra) => {
        // lengths that are not multiples of 16, past the 16-byte steps of the SIMD loop
        const long = data.map((shard, i) => Uint8Array.from({ length: shard.length + extra }, (_, j) => (j < shard.length ? shard[j]! : (i * 29 + j * 13) & 0xff)));
        const simd = new ReedSolomon(k, m);
        const js = new ReedSolomon(k, m, { simd: false });
        const parity = js.encode(long);
        expect(simd.encode(long)).toEqual(parity);
        const viaWriter = simd.encodeWith(long[0]!.length, (i, into) => into.set(long[i]!)).map((shard) => shard.slice());
        expect(viaWriter).toEqual(parity);
        for (const code of [simd, js]) {
          const shards = erase(long, parity, lost);
          expect(code.reconstruct(shards)).toBe(true);
          expect(shards.slice(0, k)).toEqual(long);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('hands encodeWith zeroed room for each shard, and its views change with the next call', () => {
    const code = new ReedSolomon(3, 2);
    const seen: number[] = [];
    const first = code.encodeWith(20, (i, into) => {
      seen.push(into.reduce((sum, byte) => sum + byte, 0), into.length);
      into[0] = i + 1;
    });
    expect(seen).toEqual([0, 20, 0, 20, 0, 20]);
    const copy = first.map((shard) => shard.slice());
    expect(copy).toEqual(code.encode([Uint8Array.of(1, ...new Uint8Array(19)), Uint8Array.of(2, ...new Uint8Array(19)), Uint8Array.of(3, ...new Uint8Array(19))]));
  });

  it('encodes a 14 × 1200-byte block with m=3 (timing printed, not asserted)', () => {
    const code = new ReedSolomon(14, 3);
    const data = Array.from({ length: 14 }, (_, i) => Uint8Array.from({ length: 1200 }, (_, j) => (i * 131 + j * 17) & 0xff));
    for (let i = 0; i < 100; i += 1) code.encode(data);
    const runs = 1000;
    const started = performance.now();
    for (let i = 0; i < runs; i += 1) code.encode(data);
    const microseconds = ((performance.now() - started) * 1000) / runs;
    console.log(`Reed-Solomon encode, k=14 m=3 1200 B: ${microseconds.toFixed(1)} µs per block`);
    expect(code.encode(data)).toHaveLength(3);
  });
});
