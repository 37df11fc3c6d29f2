import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRtcp, parseRtpHeader, RTP_HEADER_BYTES, writeRtpHeader, type RtpHeader } from '../../../src/core/rtp/rtp-packet';

const header = fc.record({
  marker: fc.boolean(),
  payloadType: fc.integer({ min: 0, max: 127 }),
  seq: fc.integer({ min: 0, max: 0xffff }),
  timestamp: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  ssrc: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
});

describe('RTP header', () => {
  it('reads back every header it writes', () => {
    fc.assert(
      fc.property(header, (written: RtpHeader) => {
        const bytes = writeRtpHeader(written);
        expect(bytes).toHaveLength(RTP_HEADER_BYTES);
        expect(parseRtpHeader(bytes)).toEqual({ ...written, headerLength: RTP_HEADER_BYTES, padding: false });
      }),
      { numRuns: 500 },
    );
  });

  it('writes into the front of a packet buffer', () => {
    const packet = Buffer.alloc(40, 0xaa);
    writeRtpHeader({ marker: true, payloadType: 96, seq: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304 }, packet);
    expect(packet.subarray(0, 12).toString('hex')).toBe('80e01234deadbeef01020304');
    expect(packet[12]).toBe(0xaa);
    expect(() => writeRtpHeader({ marker: false, payloadType: 0, seq: 0, timestamp: 0, ssrc: 0 }, Buffer.alloc(11))).toThrow(RangeError);
  });

  it('skips CSRCs and a header extension and reports padding', () => {
    // V=2, P=1, X=1, CC=2; then 2 CSRCs, an extension of 1 word, and the payload
    const packet = Buffer.from('b2' + '60' + '0001' + '00000002' + '00000003' + '11111111' + '22222222' + 'bede0001' + 'aabbccdd' + 'cafe', 'hex');
    expect(parseRtpHeader(packet)).toEqual({ marker: false, payloadType: 96, seq: 1, timestamp: 2, ssrc: 3, headerLength: 12 + 8 + 8, padding: true });
  });

  it('rejects short packets, truncated extensions and other versions', () => {
    const full = writeRtpHeader({ marker: false, payloadType: 96, seq: 1, timestamp: 2, ssrc: 3 });
    for (let length = 0; length < RTP_HEADER_BYTES; length += 1) expect(parseRtpHeader(full.subarray(0, length))).toBeNull();
    const withCsrcs = Buffer.concat([full, Buffer.alloc(4)]);
    withCsrcs[0] = 0x82;
    expect(parseRtpHeader(withCsrcs)).toBeNull();
    const withExtension = Buffer.concat([full, Buffer.from('bede0002aabbccdd', 'hex')]);
    withExtension[0] = 0x90;
    expect(parseRtpHeader(withExtension)).toBeNull();
    for (const version of [0, 1, 3]) {
      const other = Buffer.from(full);
      other[0] = version << 6;
      expect(parseRtpHeader(other)).toBeNull();
    }
  });

  it('tells RTCP from RTP by the second byte (RFC 5761)', () => {
    expect(isRtcp(Buffer.from([0x80, 200]))).toBe(true);
    expect(isRtcp(Buffer.from([0x81, 192]))).toBe(true);
    expect(isRtcp(Buffer.from([0x81, 223]))).toBe(true);
    expect(isRtcp(Buffer.from([0x80, 224]))).toBe(false);
    expect(isRtcp(Buffer.from([0x80, 191]))).toBe(false);
    expect(isRtcp(writeRtpHeader({ marker: true, payloadType: 96, seq: 0, timestamp: 0, ssrc: 0 }))).toBe(false);
    expect(isRtcp(Buffer.from([0x80]))).toBe(false);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const parsed = parseRtpHeader(bytes);
        if (parsed) expect(parsed.headerLength).toBeLessThanOrEqual(bytes.length);
        isRtcp(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
