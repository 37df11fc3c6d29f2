// The sender's native parts (native/rtp/srtp_tx.c; gb_fec_build in fec.c with the encoding of rs.c) against
// the TypeScript they port (SrtpProtector.protectRtp in srtp-gcm.ts with writeRtpHeader of rtp-packet.ts;
// buildFecPayloads in fec.ts with reed-solomon.ts): the same bytes, packet by packet, over hand-picked cases
// and long seeded random sequences; and what the C writes, the TypeScript receiver opens and repairs.
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFecPayloads, parseFecPayload, recoverBlock } from '../../../src/core/rtp/fec';
import { readAbsSendTime, type RtpHeader } from '../../../src/core/rtp/rtp-packet';
import { deriveSessionKeys, newMaster, SrtpProtector, SrtpUnprotector } from '../../../src/core/rtp/srtp-gcm';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { seededRandom as mulberry32 } from '../../../src/core/util/seeded-random';

const libraryPath = nativeRtpLibrary('sender-parts.test.ts');
if (!libraryPath) console.log('sender-parts.test.ts: SKIPPED, no native rtp library to test (see the line above)');

// ---- the library through koffi ------------------------------------------------------------------------

function bind(path: string) {
  const lib = koffi.load(path);
  return {
    txNew: lib.func('gb_srtp_tx_new', 'void *', ['uint8_t *', 'uint8_t *']),
    txFree: lib.func('gb_srtp_tx_free', 'void', ['void *']),
    txProtect: lib.func('gb_srtp_tx_protect', 'long', ['void *', 'bool', 'uint8_t', 'uint16_t', 'uint32_t', 'uint32_t', 'bool', 'uint32_t', 'uint8_t *', 'size_t', 'uint8_t *', 'size_t']),
    // payloads, lens: arrays of pointers and size_t made here (BigUint64Array)
    fecBuild: lib.func('gb_fec_build', 'long', ['uint16_t', 'void *', 'void *', 'size_t', 'size_t', 'bool', 'bool', 'uint8_t *', 'size_t']),
  };
}

const native = libraryPath ? bind(libraryPath) : null;

/**
 * Native memory for what is passed in and what comes out, each placed at the end of its arena, so that a
 * read or write past it runs off the allocation (where AddressSanitizer, in a sanitized build, catches it).
 */
const ARENA_BYTES = 1 << 17;
const inArena = native ? koffi.alloc('uint8_t', ARENA_BYTES) : null;
const outArena = native ? koffi.alloc('uint8_t', ARENA_BYTES) : null;
const inBytes = inArena ? new Uint8Array(koffi.view(inArena, ARENA_BYTES)) : new Uint8Array(0);
const outBytes = outArena ? new Uint8Array(koffi.view(outArena, ARENA_BYTES)) : new Uint8Array(0);
afterAll(() => {
  if (inArena) koffi.free(inArena);
  if (outArena) koffi.free(outArena);
});

const TAG_BYTES = 16;
const headerBytes = (stamp: number | null) => 12 + (stamp === null ? 0 : 8);

/** gb_srtp_tx: protect returns the packet, or null where the C returned -1. */
class NativeTx {
  private readonly tx: unknown;

  constructor(master: Buffer) {
    const keys = deriveSessionKeys(master);
    this.tx = native!.txNew(keys.rtpKey, keys.rtpSalt);
    if (!this.tx) throw new Error('gb_srtp_tx_new failed');
  }

  /** `cap`: the room given for the packet, by default exactly its length. */
  protect(header: RtpHeader, payload: Uint8Array, stamp: number | null, cap = headerBytes(stamp) + payload.length + TAG_BYTES): Buffer | null {
    const input = inBytes.subarray(ARENA_BYTES - payload.length);
    input.set(payload);
    const out = outBytes.subarray(ARENA_BYTES - cap);
    out.fill(0xee);
    const written = Number(
      native!.txProtect(this.tx, header.marker, header.payloadType & 0xff, header.seq & 0xffff, header.timestamp >>> 0, header.ssrc >>> 0, stamp !== null, stamp ?? 0, input, payload.length, out, cap),
    );
    if (written < 0) {
      expect(out.every((byte) => byte === 0xee)).toBe(true); // nothing written
      return null;
    }
    expect(written).toBe(headerBytes(stamp) + payload.length + TAG_BYTES);
    expect(out.subarray(written).every((byte) => byte === 0xee)).toBe(true);
    return Buffer.from(out.subarray(0, written));
  }

  free(): void {
    native!.txFree(this.tx);
  }
}

/** Byte for byte, without vitest's slow element-wise diff unless they differ. */
function expectSameBytes(actual: Uint8Array | null, expected: Uint8Array, what: string): void {
  if (actual && Buffer.from(actual).equals(expected)) return;
  expect(actual && Buffer.from(actual).toString('hex'), what).toBe(Buffer.from(expected).toString('hex'));
}

const randomInt = (random: () => number, low: number, high: number) => low + Math.floor(random() * (high - low + 1));

/** Seeded bytes, cheaply (an xorshift from one draw of `random`): payloads run to 1400 bytes, thousands of them. */
function randomBuffer(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = (Math.floor(random() * 0xffffffff) | 1) >>> 0;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** A payload length as the sender's are: mostly full packets, some short, a few empty. */
const payloadLength = (random: () => number) => {
  const draw = random();
  return draw < 0.05 ? 0 : draw < 0.5 ? 1400 : randomInt(random, 1, 1400);
};

/** An abs-send-time as the sender stamps it (24 bits), now and then a wider number (the C and the TS keep its low 24 bits). */
const sendStamp = (random: () => number): number | null => {
  const draw = random();
  return draw < 0.6 ? null : draw < 0.95 ? randomInt(random, 0, 0xffffff) : randomInt(random, 0, 0xffffffff);
};

/**
 * The next sequence number of a stream, and what kind of step it was: mostly one on, sometimes a gap, a
 * jump past half the sequence space (which the sender takes for a step back), or a resend of an older one.
 */
function nextSeq(random: () => number, last: number): { seq: number; step: 'forward' | 'jump' | 'resend' } {
  const draw = random();
  if (draw < 0.75) return { seq: (last + 1) & 0xffff, step: 'forward' };
  if (draw < 0.85) return { seq: (last + randomInt(random, 2, 300)) & 0xffff, step: 'forward' };
  if (draw < 0.97) return { seq: (last - randomInt(random, 1, 3000)) & 0xffff, step: 'resend' };
  return { seq: (last + randomInt(random, 20000, 45000)) & 0xffff, step: 'jump' };
}

// ---- SRTP send ------------------------------------------------------------------------------------------

describe.skipIf(!native)('native SRTP send (srtp_tx.c) against SrtpProtector.protectRtp', () => {
  it('writes the same packets for hand-picked headers, payloads and stamps', () => {
    const master = newMaster();
    const ts = new SrtpProtector(master);
    const c = new NativeTx(master);
    try {
      const cases: [RtpHeader, number, number | null][] = [
        [{ marker: false, payloadType: 96, seq: 0, timestamp: 0, ssrc: 0 }, 0, null],
        [{ marker: true, payloadType: 127, seq: 1, timestamp: 0xffffffff, ssrc: 0xffffffff }, 1, 0],
        [{ marker: true, payloadType: 255, seq: 2, timestamp: 1, ssrc: 0 }, 15, 0xffffff],
        [{ marker: false, payloadType: 128, seq: 3, timestamp: 2, ssrc: 0 }, 16, 0x1234567],
        [{ marker: false, payloadType: 0, seq: 4, timestamp: 3, ssrc: 0 }, 17, 0xffffffff],
        [{ marker: true, payloadType: 35, seq: 65535, timestamp: 90000, ssrc: 0x80000000 }, 1400, 0x800000],
        [{ marker: false, payloadType: 35, seq: 0, timestamp: 90000, ssrc: 0x80000000 }, 1401, null],
        [{ marker: false, payloadType: 35, seq: 65535, timestamp: 90000, ssrc: 0x80000000 }, 9000, 7],
      ];
      const random = mulberry32(21);
      for (const [header, length, stamp] of cases) {
        const payload = randomBuffer(random, length);
        const expected = ts.protectRtp(header, payload, stamp);
        expectSameBytes(c.protect(header, payload, stamp), expected, JSON.stringify({ header, length, stamp }));
      }
    } finally {
      c.free();
    }
  });

  it('refuses a packet without room, leaving the ROC and the SSRCs as they were', () => {
    const master = newMaster();
    const ts = new SrtpProtector(master);
    const c = new NativeTx(master);
    try {
      const payload = Buffer.alloc(100, 7);
      const header = (seq: number, ssrc = 5): RtpHeader => ({ marker: false, payloadType: 96, seq, timestamp: seq, ssrc });
      const same = (seq: number, ssrc = 5) => expectSameBytes(c.protect(header(seq, ssrc), payload, null), ts.protectRtp(header(seq, ssrc), payload, null), `seq ${seq} ssrc ${ssrc}`);
      for (const stamp of [null, 12345]) {
        const needed = headerBytes(stamp) + payload.length + TAG_BYTES;
        for (const cap of [0, 1, headerBytes(stamp) + TAG_BYTES - 1, needed - 1]) expect(c.protect(header(1), payload, stamp, cap)).toBeNull();
        // more room than needed: the same packet, nothing written after it
        expect(c.protect(header(1), payload, stamp, needed + 40)).not.toBeNull();
      }
      const fresh = new NativeTx(master);
      try {
        // seq 0 then a refused 32000: had it moved the stream, 40000 would be a step forward (ROC 0), not back (ROC -1)
        expectSameBytes(fresh.protect(header(0), payload, null), ts.protectRtp(header(0), payload, null), 'seq 0');
        expect(fresh.protect(header(32000), payload, null, 50)).toBeNull();
        expectSameBytes(fresh.protect(header(40000), payload, null), ts.protectRtp(header(40000), payload, null), 'seq 40000');
        // a refused new SSRC evicts nothing: with sixteen tracked, SSRC 5 (the least recently used) stays, its
        // 65535 a step back from 0 (ROC -1) where an SSRC started afresh would have ROC 0
        for (let ssrc = 100; ssrc < 115; ssrc += 1) expect(fresh.protect(header(9, ssrc), payload, null)).not.toBeNull();
        expect(fresh.protect(header(7, 999), payload, null, 10)).toBeNull();
        const reference = new SrtpProtector(master);
        reference.protectRtp(header(0), payload, null);
        reference.protectRtp(header(40000), payload, null);
        expectSameBytes(fresh.protect(header(65535), payload, null), reference.protectRtp(header(65535), payload, null), 'back to ssrc 5');
        expectSameBytes(fresh.protect(header(3), payload, null), reference.protectRtp(header(3), payload, null), 'ssrc 5 onwards');
      } finally {
        fresh.free();
      }
      same(2);
    } finally {
      c.free();
    }
  });

  for (const seed of [31, 32, 33]) {
    it(`writes the same packets over a long random sequence of up to 16 SSRCs (seed ${seed}): wraps, jumps and resends`, () => {
      const random = mulberry32(seed);
      const master = newMaster();
      const ts = new SrtpProtector(master);
      const c = new NativeTx(master);
      const ssrcs = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0 : i === 1 ? 0xffffffff : randomInt(random, 0, 0xffffffff)));
      // half the streams start just below the wrap
      const last = ssrcs.map((_, i) => (i % 2 === 0 ? randomInt(random, 65000, 65535) : randomInt(random, 0, 65535)));
      const steps = { forward: 0, jump: 0, resend: 0, wraps: 0 };
      try {
        for (let step = 0; step < 3000; step += 1) {
          const which = random() < 0.7 ? randomInt(random, 0, 1) : randomInt(random, 0, ssrcs.length - 1);
          const { seq, step: kind } = nextSeq(random, last[which]!);
          steps[kind] += 1;
          if (kind === 'forward') {
            if (seq < last[which]!) steps.wraps += 1;
            last[which] = seq;
          }
          const header: RtpHeader = { marker: random() < 0.2, payloadType: randomInt(random, 0, 255), seq, timestamp: randomInt(random, 0, 0xffffffff), ssrc: ssrcs[which]! };
          const payload = randomBuffer(random, payloadLength(random));
          const stamp = sendStamp(random);
          expectSameBytes(c.protect(header, payload, stamp), ts.protectRtp(header, payload, stamp), `seed ${seed} step ${step} ${JSON.stringify(header)} stamp ${stamp} length ${payload.length}`);
        }
      } finally {
        c.free();
      }
      expect(steps.wraps).toBeGreaterThan(5);
      expect(steps.jump).toBeGreaterThan(20);
      expect(steps.resend).toBeGreaterThan(100);
    });
  }

  it('keeps 16 SSRCs and evicts the least recently used: one that comes back starts afresh, as with a new SrtpProtector', () => {
    const random = mulberry32(41);
    const master = newMaster();
    const c = new NativeTx(master);
    // the C's table as the TypeScript would be with a protector per SSRC, dropped when the C evicts the SSRC
    const tracked = new Map<number, SrtpProtector>();
    const protectorFor = (ssrc: number): SrtpProtector => {
      const protector = tracked.get(ssrc) ?? new SrtpProtector(master);
      tracked.delete(ssrc);
      if (tracked.size >= 16) tracked.delete(tracked.keys().next().value!);
      tracked.set(ssrc, protector);
      return protector;
    };
    const ssrcs = Array.from({ length: 24 }, (_, i) => 0x1000 + i * 7919);
    const last = ssrcs.map(() => randomInt(random, 64000, 65535));
    let comebacks = 0;
    const evicted = new Set<number>();
    try {
      for (let step = 0; step < 3000; step += 1) {
        // a working set that drifts through the 24, so SSRCs leave the table and come back
        const centre = Math.floor(step / 100) % ssrcs.length;
        const which = (centre + randomInt(random, 0, random() < 0.9 ? 12 : 23)) % ssrcs.length;
        const ssrc = ssrcs[which]!;
        if (evicted.delete(ssrc)) comebacks += 1;
        const before = new Set(tracked.keys());
        const protector = protectorFor(ssrc);
        for (const gone of before) if (!tracked.has(gone)) evicted.add(gone);
        const { seq, step: kind } = nextSeq(random, last[which]!);
        if (kind === 'forward') last[which] = seq;
        const header: RtpHeader = { marker: random() < 0.2, payloadType: 96, seq, timestamp: step * 3000, ssrc };
        const payload = randomBuffer(random, randomInt(random, 0, 200));
        const stamp = sendStamp(random);
        expectSameBytes(c.protect(header, payload, stamp), protector.protectRtp(header, payload, stamp), `step ${step} ${JSON.stringify(header)}`);
      }
    } finally {
      c.free();
    }
    expect(comebacks).toBeGreaterThan(20);
  });

  it('seals what SrtpUnprotector opens: late packets, resends of lost ones across the wrap, duplicates refused', () => {
    const random = mulberry32(51);
    const master = newMaster();
    const c = new NativeTx(master);
    const receiver = new SrtpUnprotector(master);
    const streams = [0xabc, 0xdef, 0x12345678].map((ssrc) => ({ ssrc, next: randomInt(random, 64000, 65535), lost: [] as { header: RtpHeader; payload: Buffer; stamp: number | null }[] }));
    const outcomes = { ok: 0, replay: 0, resent: 0 };
    const open = (packet: Buffer, header: RtpHeader, payload: Buffer, stamp: number | null, what: string) => {
      const opened = receiver.unprotectRtp(Buffer.from(packet));
      expect('header' in opened && opened.header, what).toEqual({ ...header, payloadType: header.payloadType & 0x7f });
      expectSameBytes('payload' in opened ? opened.payload : null, payload, what);
      expect(readAbsSendTime(packet)).toBe(stamp === null ? null : stamp & 0xffffff);
      outcomes.ok += 1;
    };
    try {
      for (let step = 0; step < 3000; step += 1) {
        const stream = streams[randomInt(random, 0, streams.length - 1)]!;
        stream.next += random() < 0.9 ? 1 : randomInt(random, 2, 20);
        const header: RtpHeader = { marker: random() < 0.2, payloadType: randomInt(random, 0, 255), seq: stream.next & 0xffff, timestamp: randomInt(random, 0, 0xffffffff), ssrc: stream.ssrc };
        const payload = randomBuffer(random, randomInt(random, 0, 1400));
        const stamp = sendStamp(random);
        const packet = c.protect(header, payload, stamp)!;
        if (random() < 0.15) {
          stream.lost.push({ header, payload, stamp });
        } else {
          open(packet, header, payload, stamp, `step ${step}`);
          if (random() < 0.05) {
            expect(receiver.unprotectRtp(Buffer.from(packet))).toEqual({ error: 'replay' });
            outcomes.replay += 1;
          }
        }
        // a NACK: the lost packet sealed again under its old sequence number (the sender's step back)
        if (stream.lost.length > 0 && random() < 0.12) {
          const lost = stream.lost.splice(randomInt(random, 0, stream.lost.length - 1), 1)[0]!;
          open(c.protect(lost.header, lost.payload, lost.stamp)!, lost.header, lost.payload, lost.stamp, `resend of ${lost.header.seq} at ${step}`);
          outcomes.resent += 1;
        }
      }
      // a forged tag does not open
      const forged = c.protect({ marker: false, payloadType: 96, seq: 1, timestamp: 1, ssrc: 0xabc }, Buffer.alloc(10), null)!;
      forged[forged.length - 1]! ^= 1;
      expect(receiver.unprotectRtp(forged)).toEqual({ error: 'auth' });
    } finally {
      c.free();
    }
    expect(outcomes.resent).toBeGreaterThan(100);
    expect(outcomes.replay).toBeGreaterThan(20);
  });
});

// ---- FEC encode -----------------------------------------------------------------------------------------

/** gb_fec_build with each payload in native memory of its own and `cap` bytes of room: the payloads written, or -1. */
function nativeBuild(block: { baseSeq: number; payloads: readonly Uint8Array[]; endsFrame: boolean; startsFrame?: boolean }, m: number, cap?: number): Buffer[] | -1 {
  const owned: unknown[] = [];
  try {
    const k = block.payloads.length;
    const pointers = new BigUint64Array(Math.max(1, k));
    const lengths = new BigUint64Array(Math.max(1, k));
    block.payloads.forEach((payload, i) => {
      const pointer = koffi.alloc('uint8_t', Math.max(1, payload.length));
      owned.push(pointer);
      new Uint8Array(koffi.view(pointer, Math.max(1, payload.length))).set(payload);
      pointers[i] = koffi.address(pointer);
      lengths[i] = BigInt(payload.length);
    });
    const shardLength = 2 + block.payloads.reduce((max, payload) => Math.max(max, payload.length), 0);
    const room = cap ?? m * (8 + shardLength);
    const out = outBytes.subarray(ARENA_BYTES - room);
    out.fill(0xee);
    const result = Number(native!.fecBuild(block.baseSeq, pointers, lengths, k, m, block.endsFrame, block.startsFrame ?? false, out, room));
    if (result < 0) {
      expect(result).toBe(-1);
      expect(out.every((byte) => byte === 0xee)).toBe(true); // nothing written
      return -1;
    }
    expect(result).toBe(m === 0 ? 0 : shardLength);
    expect(out.subarray(m * (8 + result)).every((byte) => byte === 0xee)).toBe(true);
    return Array.from({ length: m }, (_, j) => Buffer.from(out.subarray(j * (8 + result), (j + 1) * (8 + result))));
  } finally {
    for (const pointer of owned) koffi.free(pointer);
  }
}

/** buildFecPayloads, or -1 where it throws. */
function tsBuild(block: { baseSeq: number; payloads: readonly Uint8Array[]; endsFrame: boolean; startsFrame?: boolean }, m: number): Buffer[] | -1 {
  try {
    return buildFecPayloads(block, m);
  } catch (error) {
    expect(error).toBeInstanceOf(RangeError);
    return -1;
  }
}

function expectSameBuild(actual: Buffer[] | -1, expected: Buffer[] | -1, what: string): void {
  if (expected === -1 || actual === -1) {
    expect(actual, what).toBe(expected);
    return;
  }
  expect(actual.length, what).toBe(expected.length);
  expected.forEach((payload, j) => expectSameBytes(actual[j]!, payload, `${what} parity ${j}`));
}

/** A block of k payloads: all one length now and then, else random lengths up to 1400, a few empty. */
function randomBlock(random: () => number, k: number) {
  const equal = random() < 0.3 ? randomInt(random, 1, 1400) : null;
  const payloads = Array.from({ length: k }, () => randomBuffer(random, equal ?? (random() < 0.03 ? 0 : randomInt(random, 1, 1400))));
  return { baseSeq: randomInt(random, 0, 65535), payloads, endsFrame: random() < 0.5, startsFrame: random() < 0.5 };
}

describe.skipIf(!native)('native FEC encode (gb_fec_build in fec.c, rs.c) against buildFecPayloads', () => {
  it('builds the same payloads for random blocks, small and up to 255 shards', () => {
    const random = mulberry32(61);
    for (let round = 0; round < 300; round += 1) {
      const m = randomInt(random, 0, 10);
      const k = round % 20 === 19 ? randomInt(random, 49, 255 - m) : randomInt(random, 1, 48);
      const block = randomBlock(random, k);
      // small shards too, where only the scalar tail of the SIMD kernel runs
      if (round % 10 === 3) for (let i = 0; i < k; i += 1) block.payloads[i] = randomBuffer(random, randomInt(random, 0, 20));
      expectSameBuild(nativeBuild(block, m), tsBuild(block, m), `round ${round}: k=${k} m=${m}`);
    }
  });

  it('refuses where buildFecPayloads throws (k, m, the shard length), and where the room is too small', () => {
    const random = mulberry32(62);
    const blockOf = (k: number, length = 10) => ({ baseSeq: 1, payloads: Array.from({ length: k }, (_, i) => randomBuffer(random, i === 0 ? length : randomInt(random, 0, length))), endsFrame: true });
    for (const [k, m, length] of [
      [0, 0, 10],
      [0, 1, 10],
      [1, 0, 10],
      [1, 254, 10],
      [1, 255, 10],
      [254, 1, 10],
      [255, 0, 10],
      [255, 1, 10],
      [256, 0, 10],
      [200, 55, 30],
      [200, 56, 30],
      [2, 3, 0],
      [1, 1, 65533], // a shard of 65535 bytes, the most
      [1, 1, 65534],
      [3, 0, 65534], // no parity: the TypeScript returns [] before it looks at the lengths
    ] as const) {
      const block = blockOf(k, length);
      const room = m * (8 + 2 + length);
      if (room > ARENA_BYTES) {
        expect(tsBuild(block, m), `k=${k} m=${m} length ${length}`).toBe(-1);
        expect(nativeBuild(block, m, 0), `k=${k} m=${m} length ${length}`).toBe(-1);
        continue;
      }
      expectSameBuild(nativeBuild(block, m), tsBuild(block, m), `k=${k} m=${m} length ${length}`);
    }
    // an m no TypeScript caller could give, as a size_t: still refused, nothing written
    expect(Number(native!.fecBuild(1, new BigUint64Array([koffi.address(inArena!)]), new BigUint64Array([1n]), 1, 2n ** 63n, true, false, outBytes, 100))).toBe(-1);
    // room for all but the last byte, or for no whole payload
    const block = blockOf(7, 300);
    for (const m of [1, 4]) {
      const needed = m * (8 + 302);
      for (const cap of [0, 1, 8 + 301, needed - 1]) expect(nativeBuild(block, m, cap), `m=${m} cap ${cap}`).toBe(-1);
      // more room than needed: the same payloads, nothing written past them
      expectSameBuild(nativeBuild(block, m, needed + 50), tsBuild(block, m), `m=${m} with room to spare`);
    }
  });

  it('builds blocks that recoverBlock repairs from any m losses', () => {
    const random = mulberry32(63);
    let repaired = 0;
    for (let round = 0; round < 200; round += 1) {
      const m = randomInt(random, 1, 10);
      const k = round % 25 === 24 ? randomInt(random, 49, 255 - m) : randomInt(random, 1, 48);
      const block = randomBlock(random, k);
      const built = nativeBuild(block, m);
      expect(built).not.toBe(-1);
      const fec = (built as Buffer[]).map((payload) => parseFecPayload(payload)!);
      fec.forEach(({ header }, j) => expect(header).toEqual({ baseSeq: block.baseSeq, k, m, index: j, endsFrame: block.endsFrame, startsFrame: block.startsFrame, shardLength: fec[0]!.header.shardLength }));

      // up to m of the k + m lost, media first in the draw so that most rounds need the parity
      const lost = new Set<number>();
      const losses = randomInt(random, 1, m);
      while (lost.size < losses) lost.add(random() < 0.8 ? randomInt(random, 0, k - 1) : randomInt(random, 0, k + m - 1));
      const media = new Map<number, Uint8Array>();
      block.payloads.forEach((payload, i) => {
        if (!lost.has(i)) media.set(i, payload);
      });
      const parity = new Map<number, Uint8Array>();
      fec.forEach(({ shard }, j) => {
        if (!lost.has(k + j)) parity.set(j, shard);
      });
      const recovered = recoverBlock(fec[0]!.header, media, parity);
      expect(recovered && recovered.map((payload) => Buffer.from(payload).toString('hex')), `round ${round}: k=${k} m=${m} lost ${[...lost]}`).toEqual(block.payloads.map((payload) => payload.toString('hex')));
      if (media.size < k) repaired += 1;
    }
    expect(repaired).toBeGreaterThan(150);
  });
});
