import { createCipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPli, buildReceiverReport, buildSenderReport, compound, parseCompound } from '../../../src/core/rtp/rtcp';
import { writeRtpHeader, type RtpHeader } from '../../../src/core/rtp/rtp-packet';
import { MASTER_BYTES, newMaster, SrtpProtector, SrtpUnprotector, type UnprotectError } from '../../../src/core/rtp/srtp-gcm';

const SSRC = 0x11223344;

function rtpHeader(seq: number, ssrc = SSRC): RtpHeader {
  return { marker: seq % 7 === 0, payloadType: 96, seq: seq & 0xffff, timestamp: (seq * 3000) >>> 0, ssrc };
}

function payloadOf(seq: number, length = 48): Buffer {
  return Buffer.alloc(length, seq & 0xff);
}

function pair(options?: { replayWindow?: number; maxSsrcs?: number }): { sender: SrtpProtector; receiver: SrtpUnprotector; master: Buffer } {
  const master = newMaster();
  return { sender: new SrtpProtector(master), receiver: new SrtpUnprotector(master, options), master };
}

function errorOf(result: object): UnprotectError | undefined {
  return 'error' in result ? (result.error as UnprotectError) : undefined;
}

/** RFC 7714 by hand, independent of the module: HKDF session key and salt, then the IV and AAD of §8.1 / §9.1. */
function sessionKey(master: Buffer, kind: 'srtp' | 'srtcp'): { key: Buffer; salt: Buffer } {
  return {
    key: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `gpu-bridge ${kind} key`, 32)),
    salt: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `gpu-bridge ${kind} salt`, 12)),
  };
}

function sealRtpByHand(master: Buffer, header: Buffer, plaintext: Buffer, roc: number): Buffer {
  const { key, salt } = sessionKey(master, 'srtp');
  const iv = Buffer.alloc(12);
  header.copy(iv, 2, 8, 12);
  iv.writeUInt32BE(roc, 6);
  header.copy(iv, 10, 2, 4);
  for (let i = 0; i < 12; i += 1) iv[i] = iv[i]! ^ salt[i]!;
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

function sealRtcpByHand(master: Buffer, rtcp: Buffer, index: number): Buffer {
  const { key, salt } = sessionKey(master, 'srtcp');
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE((0x80000000 | index) >>> 0);
  const iv = Buffer.alloc(12);
  rtcp.copy(iv, 2, 4, 8);
  iv.writeUInt32BE(index, 8);
  for (let i = 0; i < 12; i += 1) iv[i] = iv[i]! ^ salt[i]!;
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.concat([rtcp.subarray(0, 8), trailer]));
  const body = Buffer.concat([cipher.update(rtcp.subarray(8)), cipher.final()]);
  return Buffer.concat([rtcp.subarray(0, 8), body, cipher.getAuthTag(), trailer]);
}

describe('SRTP AES-256-GCM', () => {
  it('makes a fresh 44-byte master each time and refuses another size', () => {
    const a = newMaster();
    expect(a).toHaveLength(MASTER_BYTES);
    expect(a.equals(newMaster())).toBe(false);
    expect(() => new SrtpProtector(Buffer.alloc(32))).toThrow(RangeError);
    expect(() => new SrtpUnprotector(Buffer.alloc(45))).toThrow(RangeError);
    expect(() => new SrtpUnprotector(a, { replayWindow: 0 })).toThrow(RangeError);
    expect(() => new SrtpUnprotector(a, { maxSsrcs: 0 })).toThrow(RangeError);
  });

  it('round-trips RTP packets', () => {
    const { sender, receiver } = pair();
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 1500 }), (marker, payloadType, timestamp, payload) => {
        // a fresh SSRC per run, increasing seqs, so the replay window never objects
        const header = { marker, payloadType, seq: 1000, timestamp, ssrc: SSRC };
        const fresh = pair();
        const packet = fresh.sender.protectRtp(header, payload);
        expect(packet).toHaveLength(12 + payload.length + 16);
        expect(packet.subarray(0, 12).equals(writeRtpHeader(header))).toBe(true);
        expect(fresh.receiver.unprotectRtp(packet)).toEqual({ header, payload: Buffer.from(payload) });
      }),
      { numRuns: 200 },
    );
    for (let seq = 0; seq < 100; seq += 1) {
      const result = receiver.unprotectRtp(sender.protectRtp(rtpHeader(seq), payloadOf(seq)));
      expect(result).toEqual({ header: rtpHeader(seq), payload: payloadOf(seq) });
    }
  });

  it('follows RFC 7714: the same bytes as an independent construction, both ways', () => {
    const { sender, receiver, master } = pair();
    const header = rtpHeader(4242);
    const payload = Buffer.from('a video payload');
    expect(sender.protectRtp(header, payload).equals(sealRtpByHand(master, writeRtpHeader(header), payload, 0))).toBe(true);
    const rtcp = compound([buildReceiverReport({ ssrc: SSRC }), buildPli({ senderSsrc: SSRC, mediaSsrc: 9 })]);
    expect(sender.protectRtcp(rtcp).equals(sealRtcpByHand(master, rtcp, 0))).toBe(true);
    expect(sender.protectRtcp(rtcp).equals(sealRtcpByHand(master, rtcp, 1))).toBe(true);
    expect(receiver.unprotectRtcp(sealRtcpByHand(master, rtcp, 77))).toEqual({ compound: rtcp, index: 77 });
  });

  it('reads RTP with CSRCs, a header extension and padding from another sender', () => {
    const { receiver, master } = pair();
    // V=2 P=1 X=1 CC=1, PT 96, seq 10; one CSRC, a one-word extension; payload + 3 bytes of padding
    const header = Buffer.from('b1' + '60' + '000a' + '00000064' + '11223344' + 'cafebabe' + 'bede0001' + '10ff0000', 'hex');
    const sealed = sealRtpByHand(master, header, Buffer.concat([Buffer.from('frame'), Buffer.from([0, 0, 3])]), 0);
    expect(receiver.unprotectRtp(sealed)).toEqual({ header: { marker: false, payloadType: 96, seq: 10, timestamp: 100, ssrc: SSRC }, payload: Buffer.from('frame') });
    const badPadding = sealRtpByHand(master, header.map((byte, i) => (i === 3 ? 11 : byte)) as Buffer, Buffer.from([1, 2, 0]), 0);
    expect(receiver.unprotectRtp(badPadding)).toEqual({ error: 'malformed' });
  });

  it('round-trips SRTCP with a rising index', () => {
    const { sender, receiver } = pair();
    const rtcp = compound([buildSenderReport({ ssrc: SSRC, ntpMs: Date.now(), rtpTimestamp: 1, packetCount: 2, octetCount: 3 }), buildPli({ senderSsrc: SSRC, mediaSsrc: 5 })]);
    for (let index = 0; index < 50; index += 1) {
      const packet = sender.protectRtcp(rtcp);
      expect(packet).toHaveLength(rtcp.length + 16 + 4);
      expect(packet.subarray(0, 8).equals(rtcp.subarray(0, 8))).toBe(true);
      expect(packet.readUInt32BE(packet.length - 4)).toBe((0x80000000 | index) >>> 0);
      const result = receiver.unprotectRtcp(packet);
      expect(result).toEqual({ compound: rtcp, index });
      expect(parseCompound((result as { compound: Buffer }).compound)).toHaveLength(2);
    }
    expect(() => sender.protectRtcp(Buffer.alloc(4))).toThrow(RangeError);
  });

  it('rejects an RTP packet with any one bit flipped, and none of them changes state', () => {
    const { sender, receiver } = pair();
    const packet = sender.protectRtp(rtpHeader(500), payloadOf(500, 40));
    for (let bit = 0; bit < packet.length * 8; bit += 1) {
      const flipped = Buffer.from(packet);
      flipped[bit >> 3] = flipped[bit >> 3]! ^ (0x80 >> (bit & 7));
      const error = errorOf(receiver.unprotectRtp(flipped));
      // version bits give 'malformed'; CSRC count and extension bits can make the header outgrow the packet
      if (bit < 8) expect(['malformed', 'short', 'auth']).toContain(error);
      else expect(error).toBe('auth');
    }
    expect(receiver.trackedSsrcs).toEqual({ rtp: 0, rtcp: 0 });
    expect(errorOf(receiver.unprotectRtp(packet))).toBeUndefined();
  });

  it('rejects an SRTCP packet with any one bit flipped', () => {
    const { sender, receiver } = pair();
    const packet = sender.protectRtcp(compound([buildReceiverReport({ ssrc: SSRC }), buildPli({ senderSsrc: SSRC, mediaSsrc: 5 })]));
    for (let bit = 0; bit < packet.length * 8; bit += 1) {
      const flipped = Buffer.from(packet);
      flipped[bit >> 3] = flipped[bit >> 3]! ^ (0x80 >> (bit & 7));
      const error = errorOf(receiver.unprotectRtcp(flipped));
      const inTypeOrFlag = bit < 16 || bit === (packet.length - 4) * 8;
      if (inTypeOrFlag) expect(['malformed', 'auth']).toContain(error);
      else expect(error).toBe('auth');
    }
    expect(receiver.trackedSsrcs).toEqual({ rtp: 0, rtcp: 0 });
    expect(receiver.unprotectRtcp(packet)).toMatchObject({ index: 0 });
  });

  it('calls the same packet twice a replay, RTP and RTCP', () => {
    const { sender, receiver } = pair();
    const rtp = sender.protectRtp(rtpHeader(1), payloadOf(1));
    expect(errorOf(receiver.unprotectRtp(rtp))).toBeUndefined();
    expect(receiver.unprotectRtp(rtp)).toEqual({ error: 'replay' });
    const rtcp = sender.protectRtcp(buildReceiverReport({ ssrc: SSRC }));
    expect(errorOf(receiver.unprotectRtcp(rtcp))).toBeUndefined();
    expect(receiver.unprotectRtcp(rtcp)).toEqual({ error: 'replay' });
  });

  it('accepts packets out of order within the window, each once', () => {
    const { sender, receiver } = pair();
    const packets = Array.from({ length: 300 }, (_, i) => sender.protectRtp(rtpHeader(65400 + i), payloadOf(i)));
    const order = fc.sample(fc.shuffledSubarray(packets.map((_, i) => i), { minLength: 300, maxLength: 300 }), 1)[0]!;
    for (const i of order) expect(errorOf(receiver.unprotectRtp(packets[i]!))).toBeUndefined();
    for (const i of order) expect(receiver.unprotectRtp(packets[i]!)).toEqual({ error: 'replay' });
    const rtcps = Array.from({ length: 40 }, () => sender.protectRtcp(buildReceiverReport({ ssrc: SSRC })));
    for (const i of [5, 1, 0, 39, 20, 2]) expect(receiver.unprotectRtcp(rtcps[i]!)).toMatchObject({ index: i });
    expect(receiver.unprotectRtcp(rtcps[20]!)).toEqual({ error: 'replay' });
  });

  it('calls a packet older than the window a replay', () => {
    const { sender, receiver } = pair({ replayWindow: 64 });
    const packets = Array.from({ length: 200 }, (_, i) => sender.protectRtp(rtpHeader(i), payloadOf(i)));
    expect(errorOf(receiver.unprotectRtp(packets[0]!))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(packets[100]!))).toBeUndefined();
    expect(receiver.unprotectRtp(packets[36]!)).toEqual({ error: 'replay' });
    expect(errorOf(receiver.unprotectRtp(packets[37]!))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(packets[199]!))).toBeUndefined();
    expect(receiver.unprotectRtp(packets[101]!)).toEqual({ error: 'replay' });

    const wide = pair();
    const first = wide.sender.protectRtp(rtpHeader(0), payloadOf(0));
    const later = Array.from({ length: 5000 }, (_, i) => wide.sender.protectRtp(rtpHeader(i + 1), payloadOf(i)));
    expect(errorOf(wide.receiver.unprotectRtp(later[4999]!))).toBeUndefined();
    expect(wide.receiver.unprotectRtp(first)).toEqual({ error: 'replay' });
    expect(errorOf(wide.receiver.unprotectRtp(later[5000 - 4096]!))).toBeUndefined();
    expect(wide.receiver.unprotectRtp(later[5000 - 4097]!)).toEqual({ error: 'replay' });

    const rtcp = pair({ replayWindow: 8 });
    const reports = Array.from({ length: 20 }, () => rtcp.sender.protectRtcp(buildReceiverReport({ ssrc: SSRC })));
    expect(errorOf(rtcp.receiver.unprotectRtcp(reports[19]!))).toBeUndefined();
    expect(rtcp.receiver.unprotectRtcp(reports[11]!)).toEqual({ error: 'replay' });
    expect(errorOf(rtcp.receiver.unprotectRtcp(reports[12]!))).toBeUndefined();
  });

  it('refuses packets made under another master', () => {
    const { receiver } = pair();
    const stranger = new SrtpProtector(newMaster());
    expect(receiver.unprotectRtp(stranger.protectRtp(rtpHeader(3), payloadOf(3)))).toEqual({ error: 'auth' });
    expect(receiver.unprotectRtcp(stranger.protectRtcp(buildReceiverReport({ ssrc: SSRC })))).toEqual({ error: 'auth' });
    expect(receiver.trackedSsrcs).toEqual({ rtp: 0, rtcp: 0 });
  });

  it('neither throws on nor accepts any truncation of a packet', () => {
    const { sender, receiver } = pair();
    const rtp = sender.protectRtp(rtpHeader(9), payloadOf(9, 30));
    for (let length = 0; length < rtp.length; length += 1) {
      expect(['short', 'malformed', 'auth']).toContain(errorOf(receiver.unprotectRtp(rtp.subarray(0, length))));
    }
    expect(errorOf(receiver.unprotectRtp(rtp))).toBeUndefined();
    const rtcp = sender.protectRtcp(compound([buildReceiverReport({ ssrc: SSRC }), buildPli({ senderSsrc: SSRC, mediaSsrc: 1 })]));
    for (let length = 0; length < rtcp.length; length += 1) {
      expect(['short', 'malformed', 'auth']).toContain(errorOf(receiver.unprotectRtcp(rtcp.subarray(0, length))));
    }
    expect(errorOf(receiver.unprotectRtcp(rtcp))).toBeUndefined();
  });

  it('follows the ROC through three wraps of the sequence number', () => {
    const { sender, receiver, master } = pair();
    const start = 65000;
    const end = start + 3 * 65536 + 1000;
    let accepted = 0;
    for (let n = start; n < end; n += 1) {
      // dense around each wrap, sparse elsewhere: steps stay far under half the seq space
      if ((n & 0xffff) > 200 && (n & 0xffff) < 65300 && n % 211 !== 0) continue;
      const packet = sender.protectRtp(rtpHeader(n), payloadOf(n, 20));
      const result = receiver.unprotectRtp(packet);
      expect(result).toEqual({ header: rtpHeader(n), payload: payloadOf(n, 20) });
      accepted += 1;
      if (n === end - 1) {
        // a receiver that still believes ROC 0 or 1 cannot open it: the ROC really is 3
        expect(new SrtpUnprotector(master).unprotectRtp(packet)).toEqual({ error: 'auth' });
      }
    }
    expect(accepted).toBeGreaterThan(2000);
  });

  it('accepts a late packet from before a wrap, and a first packet from after one', () => {
    const { sender, receiver } = pair();
    const beforeWrap = [65533, 65534, 65535].map((seq) => sender.protectRtp(rtpHeader(seq), payloadOf(seq)));
    const afterWrap = [0, 1, 2].map((seq) => sender.protectRtp(rtpHeader(seq), payloadOf(seq)));
    // everything before the wrap is lost or late: the receiver first sees seq 1 under ROC 1
    expect(errorOf(receiver.unprotectRtp(afterWrap[1]!))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(beforeWrap[2]!))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(afterWrap[0]!))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(afterWrap[2]!))).toBeUndefined();
    expect(receiver.unprotectRtp(beforeWrap[2]!)).toEqual({ error: 'replay' });
    // a resend of an old seq is protected under its own ROC
    expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(65532), payloadOf(1))))).toBeUndefined();
  });

  it('keeps no state for a flood of garbage and foreign packets, and then works', () => {
    const { sender, receiver } = pair();
    const stranger = new SrtpProtector(newMaster());
    const random = fc.sample(fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ minLength: 0, maxLength: 200 })), 10_000);
    for (const [i, [ssrc, seq, bytes]] of random.entries()) {
      if (i % 3 === 0) {
        expect(errorOf(receiver.unprotectRtp(stranger.protectRtp(rtpHeader(seq, ssrc), bytes)))).toBe('auth');
      } else if (i % 3 === 1) {
        const garbage = Buffer.concat([writeRtpHeader(rtpHeader(seq, ssrc)), bytes]);
        expect(errorOf(receiver.unprotectRtp(garbage))).toBeDefined();
      } else {
        const garbage = Buffer.concat([buildReceiverReport({ ssrc }), bytes]);
        expect(errorOf(receiver.unprotectRtcp(garbage))).toBeDefined();
        expect(errorOf(receiver.unprotectRtcp(stranger.protectRtcp(buildReceiverReport({ ssrc }))))).toBe('auth');
      }
    }
    expect(receiver.trackedSsrcs).toEqual({ rtp: 0, rtcp: 0 });
    for (let seq = 0; seq < 10; seq += 1) expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(seq), payloadOf(seq))))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtcp(sender.protectRtcp(buildReceiverReport({ ssrc: SSRC }))))).toBeUndefined();
    expect(receiver.trackedSsrcs).toEqual({ rtp: 1, rtcp: 1 });
  });

  it('does not let forged packets on a live SSRC move its window', () => {
    const { sender, receiver } = pair({ replayWindow: 64 });
    const stranger = new SrtpProtector(newMaster());
    expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(10), payloadOf(10))))).toBeUndefined();
    for (let seq = 20_000; seq < 20_500; seq += 1) expect(errorOf(receiver.unprotectRtp(stranger.protectRtp(rtpHeader(seq), payloadOf(seq))))).toBe('auth');
    for (let seq = 11; seq < 20; seq += 1) expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(seq), payloadOf(seq))))).toBeUndefined();
  });

  it('tracks at most maxSsrcs SSRCs, evicting the least recently used', () => {
    const { sender, receiver } = pair({ maxSsrcs: 2 });
    const a = sender.protectRtp(rtpHeader(1, 0xa), payloadOf(1));
    const b = sender.protectRtp(rtpHeader(1, 0xb), payloadOf(1));
    expect(errorOf(receiver.unprotectRtp(a))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(b))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(2, 0xa), payloadOf(2))))).toBeUndefined();
    expect(errorOf(receiver.unprotectRtp(sender.protectRtp(rtpHeader(1, 0xc), payloadOf(1))))).toBeUndefined();
    expect(receiver.trackedSsrcs.rtp).toBe(2);
    expect(receiver.unprotectRtp(a)).toEqual({ error: 'replay' });
    // 0xb was evicted with its window, so its old packet is new to the receiver again
    expect(errorOf(receiver.unprotectRtp(b))).toBeUndefined();
  });

  it('never throws on random bytes', () => {
    const { receiver } = pair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(errorOf(receiver.unprotectRtp(bytes))).toBeDefined();
        expect(errorOf(receiver.unprotectRtcp(bytes))).toBeDefined();
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), (first, second, rest) => {
        const bytes = Buffer.concat([Buffer.from([0x80 | (first & 0x3f), second]), rest]);
        expect(errorOf(receiver.unprotectRtp(bytes))).toBeDefined();
        expect(errorOf(receiver.unprotectRtcp(bytes))).toBeDefined();
      }),
      { numRuns: 3000 },
    );
    expect(receiver.trackedSsrcs).toEqual({ rtp: 0, rtcp: 0 });
  });

  it('measures protect + unprotect of a 1200-byte packet', () => {
    const { sender, receiver } = pair();
    const payload = Buffer.alloc(1200, 7);
    const count = 10_000;
    const started = process.hrtime.bigint();
    for (let seq = 0; seq < count; seq += 1) receiver.unprotectRtp(sender.protectRtp(rtpHeader(seq), payload));
    const microseconds = Number(process.hrtime.bigint() - started) / 1000 / count;
    console.log(`SRTP AES-256-GCM: ${microseconds.toFixed(2)} µs per protect + unprotect of a 1200-byte packet (${count} packets)`);
  });
});
