import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blocksForFrame,
  buildFecPayloads,
  FEC_HEADER_BYTES,
  type FecHeader,
  FecOverhead,
  MAX_BLOCK_PACKETS,
  parityCount,
  parseFecPayload,
  recoverBlock,
} from '../../../src/core/rtp/fec';

/** A block of media payloads of different lengths (empty ones included), m, and the packets to lose. */
function blockCase(erasures: 'recoverable' | 'too many') {
  return fc
    .record({ k: fc.integer({ min: 1, max: MAX_BLOCK_PACKETS }), m: fc.integer({ min: 0, max: 16 }) })
    .chain(({ k, m }) =>
      fc.record({
        m: fc.constant(m),
        baseSeq: fc.integer({ min: 0, max: 0xffff }),
        endsFrame: fc.boolean(),
        payloads: fc.array(fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 80 })), { minLength: k, maxLength: k }),
        lost:
          erasures === 'recoverable'
            ? fc.uniqueArray(fc.integer({ min: 0, max: k + m - 1 }), { maxLength: m })
            : fc.uniqueArray(fc.integer({ min: 0, max: k + m - 1 }), { minLength: m + 1, maxLength: k + m }),
      }),
    );
}

/** Sends a block through FEC, drops the `lost` packets (media 0..k-1, then parity), and recovers it. */
function sendAndRecover({ m, baseSeq, endsFrame, payloads, lost }: { m: number; baseSeq: number; endsFrame: boolean; payloads: Uint8Array[]; lost: number[] }) {
  const k = payloads.length;
  const shardLength = 2 + Math.max(...payloads.map((payload) => payload.length));
  const packets = buildFecPayloads({ baseSeq, payloads, endsFrame, startsFrame: !endsFrame }, m);
  expect(packets).toHaveLength(m);
  const parity = new Map<number, Uint8Array>();
  packets.forEach((packet, index) => {
    const parsed = parseFecPayload(packet);
    expect(parsed?.header).toEqual({ baseSeq, k, m, index, endsFrame, startsFrame: !endsFrame, shardLength });
    if (!lost.includes(k + index)) parity.set(index, parsed!.shard);
  });
  const media = new Map<number, Uint8Array>();
  payloads.forEach((payload, index) => {
    if (!lost.includes(index)) media.set(index, payload);
  });
  const header: FecHeader = { baseSeq, k, m, index: 0, endsFrame, startsFrame: !endsFrame, shardLength };
  return recoverBlock(header, media, parity);
}

function fecPayload(fields: { baseSeq?: number; k?: number; m?: number; index?: number; flags?: number; shardLength?: number }, shardBytes: number): Uint8Array {
  const { baseSeq = 0, k = 4, m = 2, index = 0, flags = 0, shardLength = shardBytes } = fields;
  const bytes = new Uint8Array(FEC_HEADER_BYTES + shardBytes);
  bytes.set([baseSeq >> 8, baseSeq & 0xff, k, m, index, flags, shardLength >> 8, shardLength & 0xff]);
  return bytes;
}

describe('FEC blocks', () => {
  it('gives back every media payload when at most m of the k+m packets are lost', () => {
    fc.assert(
      fc.property(blockCase('recoverable'), (block) => {
        const recovered = sendAndRecover(block);
        expect(recovered).not.toBeNull();
        expect(recovered!.map((payload) => Array.from(payload))).toEqual(block.payloads.map((payload) => Array.from(payload)));
      }),
      { numRuns: 300 },
    );
  });

  it('returns null, never wrong data, when more than m packets are lost', () => {
    fc.assert(
      fc.property(blockCase('too many'), (block) => {
        expect(sendAndRecover(block)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('writes the header as specified, with the base sequence number wrapped to 16 bits', () => {
    const payloads = [Uint8Array.of(1, 2, 3), Uint8Array.of(4)];
    const [first, second] = buildFecPayloads({ baseSeq: 65536 + 0x1234, payloads, endsFrame: true }, 2);
    expect(Array.from(first!.subarray(0, FEC_HEADER_BYTES))).toEqual([0x12, 0x34, 2, 2, 0, 1, 0, 5]);
    expect(second![4]).toBe(1);
    expect(first).toHaveLength(FEC_HEADER_BYTES + 5);
    expect(buildFecPayloads({ baseSeq: 0, payloads, endsFrame: false }, 0)).toEqual([]);
  });

  it('rejects blocks it cannot describe', () => {
    expect(() => buildFecPayloads({ baseSeq: 0, payloads: [], endsFrame: false }, 1)).toThrow(RangeError);
    expect(() => buildFecPayloads({ baseSeq: 0, payloads: [new Uint8Array(1)], endsFrame: false }, 255)).toThrow(RangeError);
    expect(() => buildFecPayloads({ baseSeq: 0, payloads: [new Uint8Array(0xffff)], endsFrame: false }, 1)).toThrow(RangeError);
  });

  it('recovers a block whose sequence numbers wrap past 65535', () => {
    const payloads = Array.from({ length: 10 }, (_, i) => Uint8Array.from({ length: 20 + i }, (_, j) => i + j));
    const recovered = sendAndRecover({ m: 3, baseSeq: 65530, endsFrame: true, payloads, lost: [0, 7, 9] });
    expect(recovered).toEqual(payloads);
  });

  it('returns null for a received payload longer than the shard allows', () => {
    const header: FecHeader = { baseSeq: 0, k: 2, m: 1, index: 0, endsFrame: false, startsFrame: false, shardLength: 4 };
    expect(recoverBlock(header, new Map([[0, new Uint8Array(3)], [1, new Uint8Array(2)]]), new Map())).toBeNull();
    expect(recoverBlock(header, new Map([[0, new Uint8Array(2)], [1, new Uint8Array(2)]]), new Map())).toHaveLength(2);
  });

  it('returns null when a recovered length prefix runs past the shard (corrupt parity)', () => {
    const payloads = [Uint8Array.of(9, 9, 9), Uint8Array.of(1, 2, 3, 4, 5)];
    const shardLength = 7;
    const [packet] = buildFecPayloads({ baseSeq: 0, payloads, endsFrame: false }, 1);
    const { header, shard } = parseFecPayload(packet!)!;
    // damaging the parity's first byte moves the recovered length's high byte to each other value in turn
    let refused = 0;
    for (let damage = 1; damage < 256; damage += 1) {
      const corrupt = shard.slice();
      corrupt[0]! ^= damage;
      const recovered = recoverBlock(header, new Map([[1, payloads[1]!]]), new Map([[0, corrupt]]));
      if (recovered === null) refused += 1;
      else expect(recovered[0]!.length).toBeLessThanOrEqual(shardLength - 2);
    }
    expect(refused).toBe(255);
  });

  it('ignores parity shards of the wrong length or index and malformed headers', () => {
    const payloads = [Uint8Array.of(1, 2), Uint8Array.of(3)];
    const [packet] = buildFecPayloads({ baseSeq: 7, payloads, endsFrame: false }, 1);
    const { header, shard } = parseFecPayload(packet!)!;
    const media = new Map([[1, payloads[1]!]]);
    expect(recoverBlock(header, media, new Map([[0, shard]]))).toEqual(payloads);
    expect(recoverBlock(header, media, new Map([[0, shard.subarray(1)]]))).toBeNull();
    expect(recoverBlock(header, media, new Map([[1, shard]]))).toBeNull();
    expect(recoverBlock({ ...header, k: 0 }, media, new Map([[0, shard]]))).toBeNull();
    expect(recoverBlock({ ...header, shardLength: 1 }, media, new Map([[0, shard]]))).toBeNull();
    expect(recoverBlock({ ...header, m: 255 }, media, new Map([[0, shard]]))).toBeNull();
  });
});

describe('FEC payload parsing', () => {
  it('never throws on random bytes, and whatever it accepts is consistent', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const parsed = parseFecPayload(bytes);
        if (parsed === null) return;
        const { header, shard } = parsed;
        expect(header.k).toBeGreaterThanOrEqual(1);
        expect(header.index).toBeLessThan(header.m);
        expect(header.k + header.m).toBeLessThanOrEqual(255);
        expect(header.shardLength).toBeGreaterThanOrEqual(2);
        expect(shard.length).toBe(header.shardLength);
        expect(bytes.length).toBe(FEC_HEADER_BYTES + header.shardLength);
        expect(header.baseSeq).toBe((bytes[0]! << 8) | bytes[1]!);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back any well-formed header', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 254 }),
        fc.integer({ min: 1, max: 254 }),
        fc.integer({ min: 0, max: 253 }),
        fc.boolean(),
        fc.integer({ min: 2, max: 300 }),
        (baseSeq, k, mWanted, indexWanted, endsFrame, shardLength) => {
          const m = Math.min(mWanted, 255 - k);
          const index = indexWanted % m;
          const parsed = parseFecPayload(fecPayload({ baseSeq, k, m, index, flags: endsFrame ? 1 : 2 }, shardLength));
          expect(parsed?.header).toEqual({ baseSeq, k, m, index, endsFrame, startsFrame: !endsFrame, shardLength });
        },
      ),
    );
  });

  it('returns null for each kind of malformed payload', () => {
    expect(parseFecPayload(fecPayload({}, 4))).not.toBeNull();
    expect(parseFecPayload(Buffer.from(fecPayload({}, 4)))?.shard.constructor).toBe(Uint8Array);
    expect(parseFecPayload(new Uint8Array(FEC_HEADER_BYTES - 1))).toBeNull();
    expect(parseFecPayload(fecPayload({ k: 0 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({ k: 200, m: 56 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({ m: 2, index: 2 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({ m: 0, index: 0 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({ shardLength: 5 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({ shardLength: 3 }, 4))).toBeNull();
    expect(parseFecPayload(fecPayload({}, 1))).toBeNull();
    expect(parseFecPayload(fecPayload({}, 0))).toBeNull();
  });
});

describe('frame blocks and parity counts', () => {
  it('covers a frame with contiguous blocks of at most 48 packets, sizes within one of each other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), (count) => {
        const blocks = blocksForFrame(count);
        expect(blocks).toHaveLength(Math.ceil(count / MAX_BLOCK_PACKETS));
        let next = 0;
        for (const { start, k } of blocks) {
          expect(start).toBe(next);
          expect(k).toBeGreaterThanOrEqual(1);
          expect(k).toBeLessThanOrEqual(MAX_BLOCK_PACKETS);
          next += k;
        }
        expect(next).toBe(count);
        const sizes = blocks.map((block) => block.k);
        if (sizes.length > 0) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
    expect(blocksForFrame(49)).toEqual([{ start: 0, k: 25 }, { start: 25, k: 24 }]);
    expect(() => blocksForFrame(-1)).toThrow(RangeError);
  });

  it('keeps the parity count between its floor and its cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 254 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 20 }), (k, ratio, min) => {
        const m = parityCount(k, ratio, min);
        const cap = Math.min(255 - k, k);
        expect(Number.isInteger(m)).toBe(true);
        expect(m).toBeLessThanOrEqual(cap);
        expect(m).toBeGreaterThanOrEqual(Math.min(cap, Math.ceil(k * ratio - 1e-9)));
        expect(m).toBeGreaterThanOrEqual(Math.min(cap, min));
        if (ratio > 0) expect(m).toBeGreaterThanOrEqual(1);
        expect(m).toBeLessThanOrEqual(Math.max(Math.ceil(k * ratio), min, 1));
      }),
    );
    expect(parityCount(14, 0.1)).toBe(2);
    expect(parityCount(10, 0.3)).toBe(3);
    expect(parityCount(14, 0)).toBe(1);
    expect(parityCount(14, 0, 0)).toBe(0);
    expect(parityCount(3, 1, 5)).toBe(3);
    expect(parityCount(200, 1)).toBe(55);
  });
});

describe('adaptive FEC overhead', () => {
  it('starts at base and stays within [min, max] whatever it observes', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 2, noNaN: true }), { maxLength: 50 }), (losses) => {
        const overhead = new FecOverhead();
        expect(overhead.ratio).toBeCloseTo(0.1);
        for (const loss of losses) {
          overhead.observe(loss);
          expect(overhead.ratio).toBeGreaterThanOrEqual(0.1);
          expect(overhead.ratio).toBeLessThanOrEqual(0.5);
        }
      }),
    );
  });

  it('rises at once on loss', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), (history, loss) => {
        const overhead = new FecOverhead({ min: 0, max: 1, base: 0.05 });
        for (const earlier of history) overhead.observe(earlier);
        overhead.observe(loss);
        expect(overhead.ratio).toBeGreaterThanOrEqual(Math.min(1, 0.05 + 4 * loss) - 1e-12);
      }),
    );
  });

  it('falls slowly once the loss is gone', () => {
    const overhead = new FecOverhead();
    for (let i = 0; i < 30; i += 1) overhead.observe(0.05);
    expect(overhead.ratio).toBeCloseTo(0.3, 3);
    const ratios: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      overhead.observe(0);
      ratios.push(overhead.ratio);
    }
    expect(ratios[0]).toBeCloseTo(0.1 + 4 * 0.035, 3);
    for (let i = 1; i < ratios.length; i += 1) expect(ratios[i]).toBeLessThan(ratios[i - 1]!);
    expect(ratios.at(-1)).toBeGreaterThan(0.1);
  });

  it('honours custom bounds and rejects impossible ones', () => {
    const overhead = new FecOverhead({ min: 0.2, max: 0.3, base: 0 });
    expect(overhead.ratio).toBe(0.2);
    overhead.observe(1);
    expect(overhead.ratio).toBe(0.3);
    expect(() => new FecOverhead({ min: 0.5, max: 0.1 })).toThrow(RangeError);
  });
});
