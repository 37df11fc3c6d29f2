// The native AES-GCM, SRTP receive and FEC (native/rtp/gcm.c, srtp.c, fec.c, rs.c) against the TypeScript
// they port (aes-gcm.ts, srtp-gcm.ts, rtp-packet.ts, fec.ts, reed-solomon.ts): the same bytes and the same
// outcome, packet by packet, over hand-picked cases and long seeded random sequences.
import { createCipheriv, randomBytes } from 'node:crypto';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFecPayloads, parseFecPayload, recoverBlock, type FecHeader } from '../../../src/core/rtp/fec';
import { readAbsSendTime, type RtpHeader } from '../../../src/core/rtp/rtp-packet';
import { deriveSessionKeys, newMaster, SrtpProtector, SrtpUnprotector } from '../../../src/core/rtp/srtp-gcm';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { seededRandom as mulberry32 } from '../../../src/core/util/seeded-random';

const libraryPath = nativeRtpLibrary('srtp-fec.test.ts');
if (!libraryPath) console.log('srtp-fec.test.ts: SKIPPED, no native rtp library to test (see the line above)');

// ---- the library through koffi ------------------------------------------------------------------------

/** gb_rtp_packet and gb_fec_header of gb_rtp.h (anonymous: koffi's type names are per process). */
const RtpPacket = koffi.struct({
  marker: 'bool',
  payload_type: 'uint8_t',
  seq: 'uint16_t',
  timestamp: 'uint32_t',
  ssrc: 'uint32_t',
  has_send_stamp: 'bool',
  send_stamp: 'uint32_t',
  payload: 'void *',
  payload_len: 'size_t',
});
const FecHeaderStruct = koffi.struct({ base_seq: 'uint16_t', k: 'uint8_t', m: 'uint8_t', index: 'uint8_t', ends_frame: 'bool', starts_frame: 'bool', shard_length: 'uint16_t' });

interface NativeRtpPacket {
  marker: boolean;
  payload_type: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  has_send_stamp: boolean;
  send_stamp: number;
  payload: unknown;
  payload_len: number | bigint;
}
interface NativeFecHeader {
  base_seq: number;
  k: number;
  m: number;
  index: number;
  ends_frame: boolean;
  starts_frame: boolean;
  shard_length: number;
}

function bind(path: string) {
  const lib = koffi.load(path);
  return {
    gcmInit: lib.func('gb_gcm_init', 'int', ['char *', 'size_t']),
    gcmNew: lib.func('gb_gcm_new', 'void *', ['uint8_t *', 'int']),
    gcmFree: lib.func('gb_gcm_free', 'void', ['void *']),
    gcmSeal: lib.func('gb_gcm_seal', 'int', ['void *', 'uint8_t *', 'uint8_t *', 'size_t', 'uint8_t *', 'size_t', 'uint8_t *', 'uint8_t *']),
    gcmOpen: lib.func('gb_gcm_open', 'bool', ['void *', 'uint8_t *', 'uint8_t *', 'size_t', 'uint8_t *', 'size_t', 'uint8_t *', 'uint8_t *']),
    rxNew: lib.func('gb_srtp_rx_new', 'void *', ['uint8_t *', 'uint8_t *']),
    rxFree: lib.func('gb_srtp_rx_free', 'void', ['void *']),
    rxOpen: lib.func('gb_srtp_rx_open', 'int', ['void *', 'uint8_t *', 'size_t', koffi.out(koffi.pointer(RtpPacket))]),
    // shard: a one-pointer array the C writes
    fecParse: lib.func('gb_fec_parse', 'bool', ['uint8_t *', 'size_t', koffi.out(koffi.pointer(FecHeaderStruct)), 'void *']),
    // media, media_len, parity: arrays of pointers and size_t made here (BigUint64Array)
    fecRecover: lib.func('gb_fec_recover', 'bool', [koffi.pointer(FecHeaderStruct), 'void *', 'void *', 'void *', 'uint8_t *']),
  };
}

const native = libraryPath ? bind(libraryPath) : null;

/**
 * Native memory whose address is known, so the pointers the C returns (a payload inside the packet) can
 * be turned back into offsets. What is passed in lies at its end, so that a read past it runs off the
 * allocation (where AddressSanitizer, in a sanitized build, catches it).
 */
const ARENA_BYTES = 1 << 20;
const arena = native ? koffi.alloc('uint8_t', ARENA_BYTES) : null;
const arenaBytes = arena ? new Uint8Array(koffi.view(arena, ARENA_BYTES)) : new Uint8Array(0);
const arenaBase = arena ? koffi.address(arena) : 0n;
const offsetOf = (pointer: unknown): number => Number(koffi.address(pointer) - arenaBase);
afterAll(() => {
  if (arena) koffi.free(arena);
});

const ERRORS = ['ok', 'short', 'malformed', 'auth', 'replay'] as const;

type Opened = { error: string } | { header: RtpHeader; payload: Buffer; sendStamp: number | null };

class NativeRx {
  private readonly rx: unknown;

  constructor(key: Buffer, salt: Buffer) {
    this.rx = native!.rxNew(key, salt);
    if (!this.rx) throw new Error('gb_srtp_rx_new failed');
  }

  open(packet: Uint8Array): Opened {
    const start = ARENA_BYTES - packet.length;
    const at = arenaBytes.subarray(start);
    at.set(packet);
    const out = {} as NativeRtpPacket;
    const code = native!.rxOpen(this.rx, at, packet.length, out) as number;
    if (code !== 0) return { error: ERRORS[code] ?? `code ${code}` };
    const offset = offsetOf(out.payload);
    const length = Number(out.payload_len);
    expect(offset >= start && offset + length <= ARENA_BYTES).toBe(true);
    return {
      header: { marker: out.marker, payloadType: out.payload_type, seq: out.seq, timestamp: out.timestamp, ssrc: out.ssrc },
      payload: Buffer.from(arenaBytes.subarray(offset, offset + length)),
      sendStamp: out.has_send_stamp ? out.send_stamp : null,
    };
  }

  free(): void {
    native!.rxFree(this.rx);
  }
}

/** The TypeScript's answer, as the receiver uses it (in place, the send stamp read off the datagram). */
function openTs(unprotector: SrtpUnprotector, packet: Uint8Array): Opened {
  const copy = Buffer.from(packet);
  const result = unprotector.unprotectRtp(copy, { inPlace: true });
  if ('error' in result) return result;
  return { header: result.header, payload: Buffer.from(result.payload), sendStamp: readAbsSendTime(packet) };
}

/** A receiving pair: the TypeScript and the C, fed the same packets. */
function receivers(master: Buffer) {
  const keys = deriveSessionKeys(master);
  const ts = new SrtpUnprotector(master);
  const c = new NativeRx(keys.rtpKey, keys.rtpSalt);
  const outcomes: string[] = [];
  return {
    /** Both open the packet; they must agree. Returns the outcome ('ok' or the error). */
    open(packet: Uint8Array, what = ''): string {
      const expected = openTs(ts, packet);
      const actual = c.open(packet);
      expect(actual, `${what} ${Buffer.from(packet.subarray(0, 24)).toString('hex')}`).toEqual(expected);
      const outcome = 'error' in expected ? expected.error : 'ok';
      outcomes.push(outcome);
      return outcome;
    },
    outcomes,
    free: () => c.free(),
  };
}

const randomInt = (random: () => number, low: number, high: number) => low + Math.floor(random() * (high - low + 1));
const randomBuffer = (random: () => number, length: number) => Buffer.from(Array.from({ length }, () => randomInt(random, 0, 255)));

/**
 * An SRTP packet sealed here by RFC 7714, with any header (CSRCs, extensions, the padding bit) and any ROC:
 * what SrtpProtector never writes but a conforming sender may.
 */
function sealRaw(master: Buffer, header: Buffer, plaintext: Buffer, roc: number): Buffer {
  const { rtpKey, rtpSalt } = deriveSessionKeys(master);
  const iv = Buffer.alloc(12);
  header.copy(iv, 2, 8, 12);
  iv.writeUInt32BE(roc >>> 0, 6);
  header.copy(iv, 10, 2, 4);
  for (let i = 0; i < 12; i += 1) iv[i] = iv[i]! ^ rtpSalt[i]!;
  const cipher = createCipheriv('aes-256-gcm', rtpKey, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** An RTP header with `csrcs` CSRCs, an extension of these words (profile first) when given, and the padding bit. */
function rawHeader(options: { seq: number; ssrc: number; csrcs?: number; extension?: Buffer; padding?: boolean; marker?: boolean }): Buffer {
  const csrcs = options.csrcs ?? 0;
  const head = Buffer.alloc(12 + csrcs * 4);
  head[0] = 0x80 | (options.padding ? 0x20 : 0) | (options.extension ? 0x10 : 0) | csrcs;
  head[1] = (options.marker ? 0x80 : 0) | 96;
  head.writeUInt16BE(options.seq & 0xffff, 2);
  head.writeUInt32BE((options.seq * 90) >>> 0, 4);
  head.writeUInt32BE(options.ssrc >>> 0, 8);
  for (let i = 0; i < csrcs; i += 1) head.writeUInt32BE(0xc0000000 + i, 12 + i * 4);
  return options.extension ? Buffer.concat([head, options.extension]) : head;
}

/** An RFC 8285 one-byte extension block holding these elements (id, data), zero-padded to whole words. */
function oneByteExtension(elements: [number, number[]][], profile = 0xbede): Buffer {
  const body: number[] = [];
  for (const [id, data] of elements) body.push((id << 4) | (data.length - 1), ...data);
  while (body.length % 4 !== 0) body.push(0);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(profile, 0);
  head.writeUInt16BE(body.length / 4, 2);
  return Buffer.concat([head, Buffer.from(body)]);
}

const rtp = (seq: number, ssrc: number): RtpHeader => ({ marker: seq % 5 === 0, payloadType: 96, seq: seq & 0xffff, timestamp: (seq * 3000) >>> 0, ssrc });

// ---- AES-256-GCM ----------------------------------------------------------------------------------------

describe.skipIf(!native)('native AES-256-GCM (gcm.c) against node:crypto', () => {
  it('initialises, passes its own known answer, and seals and opens as node:crypto at every length', () => {
    const err = Buffer.alloc(256);
    expect(native!.gcmInit(err, err.length), err.toString('utf8').replace(/\0.*$/s, '')).toBe(0);
    expect(native!.gcmInit(err, err.length)).toBe(0);
    const random = mulberry32(7);
    for (let round = 0; round < 120; round += 1) {
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const aad = randomBytes(randomInt(random, 0, 40));
      const plaintext = randomBytes(round < 20 ? round : randomInt(random, 0, 1500));
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad);
      const expected = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const expectedTag = cipher.getAuthTag();

      const sealer = native!.gcmNew(key, 1);
      const opener = native!.gcmNew(key, 0);
      try {
        // twice with the kept context, the second time in place
        for (const inPlace of [false, true]) {
          const out = inPlace ? Buffer.from(plaintext) : Buffer.alloc(plaintext.length);
          const tag = Buffer.alloc(16);
          expect(native!.gcmSeal(sealer, iv, aad, aad.length, inPlace ? out : plaintext, plaintext.length, out, tag)).toBe(0);
          expect(out).toEqual(expected);
          expect(tag).toEqual(expectedTag);
        }
        const opened = Buffer.from(expected);
        expect(native!.gcmOpen(opener, iv, aad, aad.length, opened, opened.length, opened, expectedTag)).toBe(true);
        expect(opened).toEqual(plaintext);
        const forged = Buffer.from(expectedTag);
        forged[randomInt(random, 0, 15)]! ^= 1 << randomInt(random, 0, 7);
        expect(native!.gcmOpen(opener, iv, aad, aad.length, expected, expected.length, Buffer.alloc(expected.length), forged)).toBe(false);
        if (aad.length > 0) {
          const otherAad = Buffer.from(aad);
          otherAad[0]! ^= 0x80;
          expect(native!.gcmOpen(opener, iv, otherAad, otherAad.length, expected, expected.length, Buffer.alloc(expected.length), expectedTag)).toBe(false);
        }
        // a sealer does not open, nor an opener seal
        expect(native!.gcmOpen(sealer, iv, aad, aad.length, expected, expected.length, Buffer.alloc(expected.length), expectedTag)).toBe(false);
        expect(native!.gcmSeal(opener, iv, aad, aad.length, plaintext, plaintext.length, Buffer.alloc(plaintext.length), Buffer.alloc(16))).toBe(-1);
      } finally {
        native!.gcmFree(sealer);
        native!.gcmFree(opener);
      }
    }
  });

  it('gives the GCM specification test case 14 (AES-256, zero key and IV)', () => {
    const sealer = native!.gcmNew(Buffer.alloc(32), 1);
    const out = Buffer.alloc(16);
    const tag = Buffer.alloc(16);
    expect(native!.gcmSeal(sealer, Buffer.alloc(12), null, 0, Buffer.alloc(16), 16, out, tag)).toBe(0);
    native!.gcmFree(sealer);
    expect(out.toString('hex')).toBe('cea7403d4d606b6e074ec5d3baf39d18');
    expect(tag.toString('hex')).toBe('d0d1c8a799996bf0265b98b5d48ab919');
  });
});

// ---- SRTP receive ---------------------------------------------------------------------------------------

describe.skipIf(!native)('native SRTP receive (srtp.c) against SrtpUnprotector.unprotectRtp', () => {
  it('opens what SrtpProtector seals, with and without the abs-send-time stamp, as the TypeScript does', () => {
    const master = newMaster();
    const sender = new SrtpProtector(master);
    const both = receivers(master);
    const keys = deriveSessionKeys(master);
    const c = new NativeRx(keys.rtpKey, keys.rtpSalt);
    try {
      for (let seq = 100; seq < 140; seq += 1) {
        const payload = randomBytes(seq % 3 === 0 ? 0 : seq * 7);
        const stamp = seq % 2 === 0 ? (seq * 1234567) & 0xffffff : null;
        const packet = sender.protectRtp(rtp(seq, 0xa1b2c3d4), payload, stamp);
        expect(both.open(packet, `seq ${seq}`)).toBe('ok');
        // and the right answer, not only the same one
        expect(c.open(packet)).toEqual({ header: rtp(seq, 0xa1b2c3d4), payload, sendStamp: stamp });
      }
    } finally {
      both.free();
      c.free();
    }
  });

  it('refuses short, wrong-version, truncated and forged packets, and replays, where the TypeScript does', () => {
    const master = newMaster();
    const sender = new SrtpProtector(master);
    const both = receivers(master);
    try {
      const packet = sender.protectRtp(rtp(5, 1), randomBytes(40), 77);
      for (let length = 0; length < 28; length += 1) expect(both.open(packet.subarray(0, length))).toBe('short');
      for (const first of [0x00, 0x40, 0xc0]) {
        const wrong = Buffer.from(packet);
        wrong[0] = first | (wrong[0]! & 0x3f);
        expect(both.open(wrong)).toBe('malformed');
      }
      // an extension or CSRCs that run past the packet (with room for the tag or not)
      const longExtension = Buffer.from(packet);
      longExtension.writeUInt16BE(0xffff, 14);
      expect(both.open(longExtension)).toBe('short');
      const manyCsrcs = Buffer.from(packet.subarray(0, 28));
      manyCsrcs[0] = 0x8f;
      expect(both.open(manyCsrcs)).toBe('short');
      for (const at of [1, 5, 11, 13, 19, 20, 40, packet.length - 16, packet.length - 1]) {
        const forged = Buffer.from(packet);
        forged[at]! ^= 0x04;
        expect(both.open(forged), `byte ${at}`).toBe('auth');
      }
      // a flipped CSRC count moves the header's end into the ciphertext: whatever that gives, the same
      for (const bit of [1, 2, 4, 8]) {
        const forged = Buffer.from(packet);
        forged[0]! ^= bit;
        expect(both.open(forged)).not.toBe('ok');
      }
      expect(both.open(packet.subarray(0, packet.length - 1))).toBe('auth');
      expect(both.open(Buffer.concat([packet, Buffer.alloc(1)]))).toBe('auth');
      expect(both.open(packet)).toBe('ok');
      expect(both.open(packet)).toBe('replay');
    } finally {
      both.free();
    }
  });

  it('follows a sequence wrap (ROC 1), and takes a new SSRC whose first packets all came after the wrap', () => {
    const master = newMaster();
    const sender = new SrtpProtector(master);
    const both = receivers(master);
    try {
      const packets = new Map<number, Buffer>();
      for (let n = 65520; n < 65560; n += 1) packets.set(n, sender.protectRtp(rtp(n, 10), Buffer.from([n & 0xff, n >> 8])));
      for (let n = 65520; n < 65560; n += 1) expect(both.open(packets.get(n)!, `n ${n}`)).toBe('ok');
      for (const n of [65530, 65536, 65559]) expect(both.open(packets.get(n)!)).toBe('replay');

      const late = new Map<number, Buffer>();
      for (let n = 65530; n < 65560; n += 1) late.set(n, sender.protectRtp(rtp(n, 20), Buffer.from([n & 0xff])));
      // the ones before the wrap are lost; the first to arrive has ROC 1
      for (let n = 65540; n < 65560; n += 1) expect(both.open(late.get(n)!, `late ${n}`)).toBe('ok');
      // and one from before the wrap, late: ROC 0 again, inside the window
      expect(both.open(late.get(65533)!)).toBe('ok');
      expect(both.open(late.get(65533)!)).toBe('replay');

      // ROC 2 for an SSRC not seen yet: neither 0 nor 1 opens it
      expect(both.open(sealRaw(master, rawHeader({ seq: 9, ssrc: 30 }), Buffer.alloc(10, 1), 2))).toBe('auth');
      expect(both.open(sealRaw(master, rawHeader({ seq: 9, ssrc: 30 }), Buffer.alloc(10, 1), 1))).toBe('ok');
      // a resend from below the first wrap of an SSRC first seen at ROC 0 (the sender's ROC -1)
      expect(both.open(sealRaw(master, rawHeader({ seq: 3, ssrc: 31 }), Buffer.alloc(4, 2), 0))).toBe('ok');
      expect(both.open(sealRaw(master, rawHeader({ seq: 65535, ssrc: 31 }), Buffer.alloc(4, 2), 0xffffffff))).toBe('replay');
    } finally {
      both.free();
    }
  });

  it('strips padding, refuses bad padding without moving state, and reads CSRCs and other extensions', () => {
    const master = newMaster();
    const both = receivers(master);
    try {
      let seq = 1000;
      const ssrc = 0x5eed;
      const open = (header: Buffer, plaintext: Buffer) => both.open(sealRaw(master, header, plaintext, 0), `seq ${seq}`);
      for (const padding of [1, 2, 7, 30]) {
        seq += 1;
        const plaintext = Buffer.concat([randomBytes(30), Buffer.alloc(padding - 1), Buffer.from([padding])]);
        expect(open(rawHeader({ seq, ssrc, padding: true }), plaintext)).toBe('ok');
      }
      for (const plaintext of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([1, 2, 3, 4, 0]), Buffer.from([1, 2, 6])]) {
        seq += 1;
        expect(open(rawHeader({ seq, ssrc, padding: true }), plaintext)).toBe('malformed');
        // nothing recorded: the same index, well padded, still opens
        expect(open(rawHeader({ seq, ssrc, padding: true }), Buffer.from([9, 1]))).toBe('ok');
      }
      const extensions = [
        oneByteExtension([[3, [1, 2, 3]]]),
        oneByteExtension([[1, [9]], [3, [4, 5, 6]]]),
        oneByteExtension([[3, [1, 2]]]), // the wrong length: no stamp
        oneByteExtension([[15, [0]], [3, [1, 2, 3]]]), // id 15 stops the reading
        oneByteExtension([[3, [1, 2, 3]]], 0x1000), // a two-byte profile
        Buffer.concat([Buffer.from([0xbe, 0xde, 0, 2, 0, 0, 0x32, 7]), Buffer.from([8, 9, 0, 0])]), // padding bytes first
        Buffer.from([0xbe, 0xde, 0, 0]),
        Buffer.from([0xbe, 0xde, 0, 1, 0, 0x32, 7, 8]), // the stamp's last byte would lie past the extension
        Buffer.from([0xbe, 0xde, 0, 1, 0x32, 7, 8, 9]), // just fits
      ];
      for (const [n, extension] of extensions.entries()) {
        for (const csrcs of [0, 1, 15]) {
          seq += 1;
          expect(open(rawHeader({ seq, ssrc, csrcs, extension }), randomBytes(n * 5)), `extension ${n}`).toBe('ok');
        }
      }
      expect(both.outcomes.filter((outcome) => outcome === 'ok').length).toBeGreaterThan(20);
    } finally {
      both.free();
    }
  });

  it('guesses the ROC as the TypeScript does at the edges: half the sequence space away, and the width of the window', () => {
    const master = newMaster();
    const both = receivers(master);
    try {
      let ssrc = 0x100;
      for (const highest of [5, 32767, 32768, 40000, 65535, 65536 + 100, 65536 + 50000, 3 * 65536 + 32768]) {
        for (const offset of [-32769, -32768, -32767, -4097, -4096, -4095, -1, 0, 1, 4095, 4096, 32767, 32768, 32769]) {
          const seq = (((highest + offset) % 65536) + 65536) % 65536;
          for (const roc of [Math.floor(highest / 65536) - 1, Math.floor(highest / 65536), Math.floor(highest / 65536) + 1]) {
            // a fresh SSRC whose highest index is `highest` (sealed at its ROC: a new SSRC takes ROC 0 or 1 only)
            ssrc += 1;
            const first = sealRaw(master, rawHeader({ seq: highest & 0xffff, ssrc }), Buffer.alloc(8, 1), Math.floor(highest / 65536));
            const known = both.open(first, `highest ${highest}`);
            expect(known).toBe(highest < 2 * 65536 ? 'ok' : 'auth');
            both.open(sealRaw(master, rawHeader({ seq, ssrc }), Buffer.alloc(8, 2), roc), `highest ${highest} offset ${offset} roc ${roc}`);
          }
        }
      }
      expect(new Set(both.outcomes)).toEqual(new Set(['ok', 'auth', 'replay']));
    } finally {
      both.free();
    }
  });

  it('slides the replay window as the TypeScript does: skipped indexes stay open, old ones close', () => {
    const master = newMaster();
    const sender = new SrtpProtector(master);
    const both = receivers(master);
    const ssrc = 0xabc;
    const packets: Buffer[] = [];
    for (let n = 0; n < 18000; n += 1) packets.push(sender.protectRtp(rtp(n, ssrc), Buffer.from([n & 0xff])));
    const deliver = (n: number) => both.open(packets[n]!, `n ${n}`);
    try {
      for (let n = 0; n < 5000; n += 1) deliver(n);
      // a jump of 100: the skipped ones open (their ring bits held indexes 4096 older), once
      for (const n of [5100, 5050, 5001, 5099, 5050, 1004, 1005, 1003]) deliver(n);
      // a jump past the window's width: all of it forgotten but the newest
      for (const n of [9500, 9000, 5405, 5404, 5403, 9499, 9499, 9500]) deliver(n);
      // jumps of exactly the ring's size and one less
      for (const n of [13596, 13595, 9500, 17691, 13596, 13595, 13594]) deliver(n);
      expect(new Set(both.outcomes)).toEqual(new Set(['ok', 'replay']));
    } finally {
      both.free();
    }
  });

  it('keeps four SSRCs, evicting the least recently authenticated, as the TypeScript does', () => {
    const master = newMaster();
    const sender = new SrtpProtector(master);
    const both = receivers(master);
    try {
      const first = new Map<number, Buffer>();
      for (const ssrc of [1, 2, 3, 4]) {
        first.set(ssrc, sender.protectRtp(rtp(500, ssrc), Buffer.from([ssrc])));
        expect(both.open(first.get(ssrc)!)).toBe('ok');
      }
      expect(both.open(sender.protectRtp(rtp(501, 1), Buffer.alloc(3)))).toBe('ok'); // 1 is fresh again: 2 is the oldest
      expect(both.open(sender.protectRtp(rtp(500, 5), Buffer.alloc(3)))).toBe('ok'); // evicts 2
      expect(both.open(first.get(2)!)).toBe('ok'); // forgotten: taken again (and evicts 3)
      expect(both.open(first.get(1)!)).toBe('replay');
      expect(both.open(first.get(4)!)).toBe('replay');
      expect(both.open(first.get(3)!)).toBe('ok');
    } finally {
      both.free();
    }
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`agrees on every packet of a long random sequence (seed ${seed}): reorders, duplicates, drops, forgeries, jumps`, () => {
      const random = mulberry32(seed);
      const master = newMaster();
      const sender = new SrtpProtector(master);
      const both = receivers(master);
      // six SSRCs (more than the four kept), starting anywhere, some just before a wrap
      const streams = Array.from({ length: 6 }, (_, i) => ({ ssrc: (0x1000 + i * 0x01010101) >>> 0, seq: i % 2 === 0 ? randomInt(random, 65000, 65535) : randomInt(random, 0, 65535) }));
      // a seventh sealed here with its own index, with padding, CSRCs and extensions
      const raw = { ssrc: 0x7777, index: randomInt(random, 0, 3) * 65536 + randomInt(random, 0, 65535) };
      const sent: Buffer[] = [];
      const held: Buffer[] = [];
      const deliver = (packet: Buffer, what: string) => both.open(packet, `seed ${seed} ${what}`);
      try {
        for (let step = 0; step < 2500; step += 1) {
          const stream = streams[random() < 0.8 ? randomInt(random, 0, 1) : randomInt(random, 2, 5)]!;
          const jump = random();
          stream.seq += jump < 0.9 ? 1 : jump < 0.97 ? randomInt(random, 2, 200) : jump < 0.99 ? randomInt(random, 3000, 6000) : randomInt(random, 20000, 40000);
          let packet: Buffer;
          if (random() < 0.1) {
            raw.index = Math.max(0, raw.index + (random() < 0.9 ? 1 : randomInt(random, -100, 5000)));
            const padding = random() < 0.5;
            const plaintext = randomBuffer(random, randomInt(random, 0, 60));
            if (padding && plaintext.length > 0) plaintext[plaintext.length - 1] = randomInt(random, 0, 64);
            const extension = random() < 0.5 ? oneByteExtension([[randomInt(random, 1, 14), [1, 2, 3].slice(0, randomInt(random, 1, 3))]]) : undefined;
            const header = rawHeader({ seq: raw.index & 0xffff, ssrc: raw.ssrc, padding, csrcs: randomInt(random, 0, 2), extension });
            packet = sealRaw(master, header, plaintext, Math.floor(raw.index / 65536));
          } else {
            const stamp = random() < 0.3 ? randomInt(random, 0, 0xffffff) : null;
            packet = sender.protectRtp(rtp(stream.seq, stream.ssrc), randomBuffer(random, randomInt(random, 0, 300)), stamp);
          }
          sent.push(packet);
          const action = random();
          if (action < 0.6) deliver(packet, `step ${step}`);
          else if (action < 0.72) held.push(packet);
          else if (action < 0.78) {
            // dropped
          } else if (action < 0.84) {
            deliver(sent[randomInt(random, Math.max(0, sent.length - 300), sent.length - 1)]!, `duplicate at ${step}`);
          } else if (action < 0.88) {
            // a resend (NACK) of an earlier sequence number: the sender's step back
            const back = randomInt(random, 1, 2000);
            deliver(sender.protectRtp(rtp(stream.seq - back, stream.ssrc), randomBuffer(random, 20)), `resend at ${step}`);
          } else if (action < 0.97) {
            deliver(mutate(random, packet), `mutated at ${step}`);
          } else {
            const garbage = randomBuffer(random, randomInt(random, 0, 80));
            if (garbage.length > 0 && random() < 0.7) garbage[0] = 0x80 | (garbage[0]! & 0x3f);
            deliver(garbage, `garbage at ${step}`);
          }
          if (held.length > 0 && random() < 0.15) deliver(held.splice(randomInt(random, 0, held.length - 1), 1)[0]!, `reordered at ${step}`);
        }
        for (const packet of held) deliver(packet, 'held to the end');
        const counts = Object.fromEntries(ERRORS.map((outcome) => [outcome, both.outcomes.filter((o) => o === outcome).length]));
        // the sequence exercised every outcome
        for (const outcome of ERRORS) expect(counts[outcome], `${outcome} in ${JSON.stringify(counts)}`).toBeGreaterThan(0);
      } finally {
        both.free();
      }
    });
  }
});

/** A packet damaged in one of the ways a path or an attacker might. */
function mutate(random: () => number, packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  switch (randomInt(random, 0, 6)) {
    case 0: // the tag
      copy[copy.length - 1 - randomInt(random, 0, 15)]! ^= 1 << randomInt(random, 0, 7);
      return copy;
    case 1: // any byte
      copy[randomInt(random, 0, copy.length - 1)]! ^= 1 << randomInt(random, 0, 7);
      return copy;
    case 2:
      return copy.subarray(0, randomInt(random, 0, copy.length - 1));
    case 3: // the version
      copy[0] = (copy[0]! & 0x3f) | (randomInt(random, 0, 3) << 6);
      return copy;
    case 4: // the padding, extension or CSRC bits
      copy[0]! ^= [0x20, 0x10, 0x01, 0x0f][randomInt(random, 0, 3)]!;
      return copy;
    case 5:
      return Buffer.concat([copy, randomBuffer(random, randomInt(random, 1, 4))]);
    default: // the extension's length
      if (copy[0]! & 0x10 && copy.length > 16) copy.writeUInt16BE(randomInt(random, 0, 0xffff), 14);
      return copy;
  }
}

// ---- FEC ------------------------------------------------------------------------------------------------

/** gb_fec_parse on a copy in the arena: the header and the shard's offset, or null. */
function nativeFecParse(payload: Uint8Array): { header: FecHeader; shardOffset: number } | null {
  const at = ARENA_BYTES - payload.length;
  arenaBytes.set(payload, at);
  const header = {} as NativeFecHeader;
  const shard = new BigUint64Array(1);
  if (!native!.fecParse(arenaBytes.subarray(at), payload.length, header, shard)) return null;
  return {
    header: { baseSeq: header.base_seq, k: header.k, m: header.m, index: header.index, endsFrame: header.ends_frame, startsFrame: header.starts_frame, shardLength: header.shard_length },
    shardOffset: Number(shard[0]! - arenaBase) - at,
  };
}

/** Native memory of exactly these bytes (a sanitized build sees any access outside it), and its address. */
function nativeCopy(bytes: Uint8Array | number, owned: unknown[]): { address: bigint; view: Uint8Array } {
  const length = typeof bytes === 'number' ? bytes : bytes.length;
  const pointer = koffi.alloc('uint8_t', Math.max(1, length));
  owned.push(pointer);
  const view = new Uint8Array(koffi.view(pointer, Math.max(1, length))).subarray(0, length);
  if (typeof bytes !== 'number') view.set(bytes);
  return { address: koffi.address(pointer), view };
}

/**
 * gb_fec_recover with each media payload, parity shard and the scratch in native memory of its own. A
 * parity shard of another length is not passed (the C takes each as shard_length bytes, as the caller
 * promises), which is what recoverBlock does with it.
 */
function nativeRecover(header: FecHeader, media: ReadonlyMap<number, Uint8Array>, parity: ReadonlyMap<number, Uint8Array>): Buffer[] | null {
  const owned: unknown[] = [];
  try {
    const mediaPointers = new BigUint64Array(Math.max(1, header.k));
    const mediaLengths = new BigUint64Array(Math.max(1, header.k));
    for (let i = 0; i < header.k; i += 1) {
      const payload = media.get(i);
      if (!payload) continue;
      mediaPointers[i] = nativeCopy(payload, owned).address;
      mediaLengths[i] = BigInt(payload.length);
    }
    const parityPointers = new BigUint64Array(Math.max(1, header.m));
    for (let j = 0; j < header.m; j += 1) {
      const shard = parity.get(j);
      if (shard && shard.length === header.shardLength) parityPointers[j] = nativeCopy(shard, owned).address;
    }
    const scratch = nativeCopy(header.k * header.shardLength, owned);
    const given = Array.from(mediaPointers);
    const structHeader: NativeFecHeader = { base_seq: header.baseSeq, k: header.k, m: header.m, index: header.index, ends_frame: header.endsFrame, starts_frame: header.startsFrame, shard_length: header.shardLength };
    if (!native!.fecRecover(structHeader, mediaPointers, mediaLengths, parityPointers, scratch.view)) {
      expect(Array.from(mediaPointers)).toEqual(given); // nothing filled on failure
      return null;
    }
    return Array.from({ length: header.k }, (_, i) => {
      const payload = media.get(i);
      if (payload) {
        expect(mediaPointers[i]).toBe(given[i]);
        return Buffer.from(payload);
      }
      const offset = Number(mediaPointers[i]! - scratch.address);
      expect(offset >= 0 && offset + Number(mediaLengths[i]) <= scratch.view.length).toBe(true);
      return Buffer.from(scratch.view.subarray(offset, offset + Number(mediaLengths[i])));
    });
  } finally {
    for (const pointer of owned) koffi.free(pointer);
  }
}

/** As hex: vitest compares long byte arrays element by element, slowly. */
const asHex = (payloads: readonly Uint8Array[] | null) => payloads && payloads.map((payload) => Buffer.from(payload).toString('hex'));

describe.skipIf(!native)('native FEC (fec.c, rs.c) against parseFecPayload and recoverBlock', () => {
  it('parses FEC payloads, and refuses malformed ones, as parseFecPayload does', () => {
    const random = mulberry32(11);
    const check = (payload: Uint8Array) => {
      const expected = parseFecPayload(payload);
      const actual = nativeFecParse(payload);
      expect(actual && actual.header).toEqual(expected && expected.header);
      if (actual) expect(actual.shardOffset).toBe(8);
    };
    for (let round = 0; round < 400; round += 1) {
      const k = randomInt(random, 1, 48);
      const payloads = Array.from({ length: k }, () => randomBuffer(random, randomInt(random, 0, 300)));
      const fec = buildFecPayloads({ baseSeq: randomInt(random, 0, 65535), payloads, endsFrame: random() < 0.5, startsFrame: random() < 0.5 }, randomInt(random, 1, 6));
      for (const payload of fec) {
        check(payload);
        const bad = Buffer.from(payload);
        const field = randomInt(random, 0, 5);
        if (field === 0) bad[2] = randomInt(random, 0, 255); // k
        else if (field === 1) bad[3] = randomInt(random, 0, 255); // m
        else if (field === 2) bad[4] = randomInt(random, 0, 255); // index
        else if (field === 3) bad.writeUInt16BE(randomInt(random, 0, 4) === 0 ? randomInt(random, 0, 3) : bad.readUInt16BE(6) + randomInt(random, -2, 2), 6);
        else if (field === 4) bad[5] = randomInt(random, 0, 255); // flags: any bits
        check(field === 5 ? bad.subarray(0, randomInt(random, 0, bad.length)) : bad);
      }
    }
    for (let length = 0; length < 12; length += 1) check(randomBuffer(random, length));
    // the edges of each check: k, k + m, index against m, the shard's length
    for (const [k, m, index, shardLength] of [
      [0, 1, 0, 2],
      [1, 0, 0, 2],
      [1, 1, 0, 2],
      [1, 1, 1, 2],
      [3, 4, 3, 2],
      [3, 4, 4, 2],
      [254, 1, 0, 3],
      [255, 1, 0, 3],
      [200, 55, 54, 3],
      [200, 56, 54, 3],
      [1, 1, 0, 1],
      [1, 1, 0, 0],
    ] as const) {
      const payload = Buffer.alloc(8 + shardLength, 0xee);
      payload.set([0x12, 0x34, k, m, index, 0xff, shardLength >> 8, shardLength & 0xff]);
      check(payload);
      check(payload.subarray(0, payload.length - 1));
      check(Buffer.concat([payload, Buffer.alloc(1)]));
    }
  });

  it('recovers random blocks from random losses, and refuses what does not fit, as recoverBlock does', () => {
    const random = mulberry32(12);
    const outcomes = { recovered: 0, refused: 0, complete: 0 };
    for (let round = 0; round < 400; round += 1) {
      const k = randomInt(random, 1, 48);
      const m = randomInt(random, 0, 10);
      const equal = random() < 0.3 ? randomInt(random, 1, 1400) : null;
      const payloads = Array.from({ length: k }, () => randomBuffer(random, equal ?? (random() < 0.02 ? 0 : randomInt(random, 1, 1400))));
      const fec = buildFecPayloads({ baseSeq: randomInt(random, 0, 65535), payloads, endsFrame: true }, m);
      const longest = payloads.reduce((max, payload) => Math.max(max, payload.length), 0);
      const header: FecHeader = fec.length > 0 ? parseFecPayload(fec[0]!)!.header : { baseSeq: 0, k, m, index: 0, endsFrame: true, startsFrame: false, shardLength: longest + 2 };

      const dropRate = random() * 0.4;
      const media = new Map<number, Uint8Array>();
      payloads.forEach((payload, i) => {
        if (random() >= dropRate) media.set(i, payload);
      });
      const parity = new Map<number, Uint8Array>();
      fec.forEach((payload, j) => {
        if (random() >= dropRate) parity.set(j, parseFecPayload(payload)!.shard);
      });

      const damage = random();
      let used = header;
      if (damage < 0.08) {
        // a shard length that is not the block's: shorter than a payload, or longer than the parity
        used = { ...header, shardLength: Math.max(0, header.shardLength + randomInt(random, -3, 3)) };
      } else if (damage < 0.14 && parity.size > 0) {
        // a damaged parity shard: its length prefix, or any byte
        const j = [...parity.keys()][randomInt(random, 0, parity.size - 1)]!;
        const shard = Uint8Array.from(parity.get(j)!);
        shard[random() < 0.5 ? randomInt(random, 0, 1) : randomInt(random, 0, shard.length - 1)]! ^= 1 << randomInt(random, 0, 7);
        parity.set(j, shard);
      } else if (damage < 0.18 && parity.size > 0) {
        // a parity shard of the wrong length (another block's), or a payload that is too long
        const j = [...parity.keys()][0]!;
        parity.set(j, parity.get(j)!.subarray(0, Math.max(0, parity.get(j)!.length - 1)));
        if (random() < 0.5 && media.size > 0) media.set([...media.keys()][0]!, randomBuffer(random, header.shardLength - 1));
      } else if (damage < 0.2) {
        used = { ...header, k: randomInt(random, 0, 255), m: randomInt(random, 0, 255) };
        if (used.k * used.shardLength > 4 << 20) used = { ...used, k: 0 };
      }

      const expected = asHex(recoverBlock(used, media, parity));
      const actual = asHex(nativeRecover(used, media, parity));
      expect(actual, `round ${round}: k=${used.k} m=${used.m} L=${used.shardLength} media ${media.size} parity ${parity.size}`).toEqual(expected);
      if (expected && media.size === used.k) outcomes.complete += 1;
      else if (expected) outcomes.recovered += 1;
      else outcomes.refused += 1;
      // undamaged and enough arrived: the block itself
      if (damage >= 0.2 && media.size + parity.size >= k) expect(actual).toEqual(asHex(payloads));
    }
    expect(outcomes.recovered).toBeGreaterThan(50);
    expect(outcomes.refused).toBeGreaterThan(20);
    expect(outcomes.complete).toBeGreaterThan(5);
  });

  it('recovers the largest blocks: k + m = 255, and shards of the longest length', () => {
    const random = mulberry32(13);
    for (const [k, m, length] of [
      [200, 55, 40],
      [1, 254, 10],
      [254, 1, 3],
      [3, 2, 65533],
    ] as const) {
      const payloads = Array.from({ length: k }, (_, i) => randomBuffer(random, i === 0 ? length : randomInt(random, 0, length)));
      const fec = buildFecPayloads({ baseSeq: 7, payloads, endsFrame: false }, m);
      const header = parseFecPayload(fec[0]!)!.header;
      const media = new Map<number, Uint8Array>();
      payloads.forEach((payload, i) => {
        if (i >= Math.min(m, k)) media.set(i, payload);
      });
      const parity = new Map(fec.map((payload, j) => [j, parseFecPayload(payload)!.shard] as const));
      const actual = asHex(nativeRecover(header, media, parity));
      expect(actual).toEqual(asHex(recoverBlock(header, media, parity)));
      expect(actual).toEqual(asHex(payloads));
    }
  });
});
