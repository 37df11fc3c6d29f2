import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildNack,
  buildPli,
  buildReceiverReport,
  buildRttApp,
  buildSenderReport,
  compound,
  MAX_COMPOUND_PACKETS,
  MAX_NACK_ENTRIES,
  ntpMiddle32,
  nextRttEstimate,
  parseCompound,
  rttFromReport,
  type RtcpPacket,
} from '../../../src/core/rtp/rtcp';

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const seq = fc.integer({ min: 0, max: 0xffff });

/** The one packet of a compound, narrowed to its type. */
function single<T extends RtcpPacket['type']>(bytes: Uint8Array, type: T): Extract<RtcpPacket, { type: T }> {
  const parsed = parseCompound(bytes);
  expect(parsed).toHaveLength(1);
  expect(parsed![0]!.type).toBe(type);
  return parsed![0] as Extract<RtcpPacket, { type: T }>;
}

describe('RTCP', () => {
  it('round-trips a sender report, NTP time to within a microsecond', () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), u32, u32, u32, (ssrc, wholeMs, partMs, rtpTimestamp, packetCount, octetCount) => {
        const ntpMs = wholeMs + partMs;
        const sr = single(buildSenderReport({ ssrc, ntpMs, rtpTimestamp, packetCount, octetCount }), 'sr');
        expect(sr).toMatchObject({ ssrc, rtpTimestamp, packetCount, octetCount });
        expect(Math.abs(sr.ntpMs - ntpMs)).toBeLessThan(0.001);
      }),
      { numRuns: 500 },
    );
  });

  it('writes the NTP epoch and fraction of a known time', () => {
    const sr = buildSenderReport({ ssrc: 1, ntpMs: 1_700_000_000_500, rtpTimestamp: 0, packetCount: 0, octetCount: 0 });
    expect(sr.readUInt32BE(8)).toBe(1_700_000_000 + 2_208_988_800);
    expect(sr.readUInt32BE(12)).toBe(2 ** 31);
    expect(sr.subarray(0, 4).toString('hex')).toBe('80c80006');
  });

  it('round-trips receiver reports with and without a block, negative loss included', () => {
    expect(parseCompound(buildReceiverReport({ ssrc: 7 }))).toEqual([{ type: 'rr', ssrc: 7 }]);
    const block = { ssrc: 9, fractionLost: 255, cumulativeLost: -3, highestSeq: 0x0003fffe, jitter: 1234, lsr: 0xabcd1234, dlsr: 65536 };
    expect(parseCompound(buildReceiverReport({ ssrc: 7, block }))).toEqual([{ type: 'rr', ssrc: 7, block }]);
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: 255 }), fc.integer({ min: -(2 ** 23), max: 2 ** 23 - 1 }), u32, u32, u32, u32, (ssrc, source, fractionLost, cumulativeLost, highestSeq, jitter, lsr, dlsr) => {
        const report = { ssrc, block: { ssrc: source, fractionLost, cumulativeLost, highestSeq, jitter, lsr, dlsr } };
        expect(parseCompound(buildReceiverReport(report))).toEqual([{ type: 'rr', ...report }]);
      }),
      { numRuns: 300 },
    );
  });

  it('clamps cumulative loss to 24 signed bits', () => {
    const block = { ssrc: 1, fractionLost: 0, cumulativeLost: 2 ** 30, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
    expect(single(buildReceiverReport({ ssrc: 2, block }), 'rr').block?.cumulativeLost).toBe(2 ** 23 - 1);
  });

  it('packs scattered NACK seqs across the wrap into PID+BLP pairs', () => {
    const seqs = [3, 65533, 65530, 5, 0, 65535, 1, 40_000, 4, 2, 65531, 65532, 65534, 40_017];
    const packet = buildNack({ senderSsrc: 1, mediaSsrc: 2, seqs });
    // 65530 covers 65531..5 (16 after it); 40000 covers nothing else within 16; 40017 stands alone
    expect((packet.length - 12) / 4).toBe(3);
    expect(packet.readUInt16BE(12)).toBe(40_000);
    expect(packet.readUInt16BE(16)).toBe(40_017);
    expect(packet.readUInt16BE(20)).toBe(65530);
    expect(packet.readUInt16BE(22)).toBe(0b1111_1111_111);
    expect(parseCompound(packet)).toEqual([
      { type: 'nack', senderSsrc: 1, mediaSsrc: 2, seqs: [40_000, 40_017, 65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5] },
    ]);
  });

  it('orders a NACK run from its first seq when the run wraps', () => {
    const seqs = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5];
    expect(single(buildNack({ senderSsrc: 1, mediaSsrc: 2, seqs: [...seqs].reverse() }), 'nack')).toEqual({ type: 'nack', senderSsrc: 1, mediaSsrc: 2, seqs });
  });

  it('round-trips any set of up to 64 NACK seqs', () => {
    fc.assert(
      fc.property(fc.uniqueArray(seq, { minLength: 1, maxLength: MAX_NACK_ENTRIES }), (seqs) => {
        const nack = single(buildNack({ senderSsrc: 3, mediaSsrc: 4, seqs }), 'nack');
        expect([...nack.seqs].sort((a, b) => a - b)).toEqual([...seqs].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('stops a NACK at 64 entries and refuses an empty one', () => {
    const seqs = Array.from({ length: 100 }, (_, i) => i * 100);
    const packet = buildNack({ senderSsrc: 1, mediaSsrc: 2, seqs });
    expect((packet.length - 12) / 4).toBe(MAX_NACK_ENTRIES);
    expect(single(packet, 'nack').seqs).toEqual(seqs.slice(0, MAX_NACK_ENTRIES));
    expect(() => buildNack({ senderSsrc: 1, mediaSsrc: 2, seqs: [] })).toThrow(RangeError);
  });

  it('reads at most 64 FCI entries of a longer NACK', () => {
    const packet = Buffer.alloc(12 + 100 * 4);
    packet.writeUInt32BE(0x81cd0000 + 100 + 2, 0);
    for (let i = 0; i < 100; i += 1) {
      packet.writeUInt16BE(i * 20, 12 + i * 4);
      packet.writeUInt16BE(0xffff, 14 + i * 4);
    }
    expect(single(packet, 'nack').seqs).toHaveLength(MAX_NACK_ENTRIES * 17);
  });

  it('round-trips PLI and the RTT APP packet in one compound', () => {
    const packets = compound([
      buildReceiverReport({ ssrc: 1 }),
      buildPli({ senderSsrc: 1, mediaSsrc: 0xfeedface }),
      buildRttApp({ ssrc: 5, rttUs: 4_000_000_000 }),
    ]);
    expect(parseCompound(packets)).toEqual([
      { type: 'rr', ssrc: 1 },
      { type: 'pli', senderSsrc: 1, mediaSsrc: 0xfeedface },
      { type: 'app', ssrc: 5, rttUs: 4_000_000_000 },
    ]);
    expect(buildRttApp({ ssrc: 5, rttUs: 1 }).subarray(8, 12).toString('latin1')).toBe('GBRT');
  });

  it('skips packet types it does not use', () => {
    const sdes = Buffer.from('81ca000200000001' + '00000000', 'hex');
    const otherApp = buildRttApp({ ssrc: 5, rttUs: 1 });
    otherApp.write('XXXX', 8, 'latin1');
    const remb = buildPli({ senderSsrc: 1, mediaSsrc: 2 });
    remb[0] = 0x8f;
    const tcc = buildNack({ senderSsrc: 1, mediaSsrc: 2, seqs: [1] });
    tcc[0] = 0x8f;
    expect(parseCompound(compound([sdes, otherApp, remb, tcc, buildPli({ senderSsrc: 3, mediaSsrc: 4 })]))).toEqual([{ type: 'pli', senderSsrc: 3, mediaSsrc: 4 }]);
  });

  it('takes padding off the last packet', () => {
    const padded = Buffer.concat([buildPli({ senderSsrc: 3, mediaSsrc: 4 }), Buffer.from([0, 0, 0, 4])]);
    padded[0] = padded[0]! | 0x20;
    padded.writeUInt16BE(3, 2);
    expect(parseCompound(padded)).toEqual([{ type: 'pli', senderSsrc: 3, mediaSsrc: 4 }]);
    padded[15] = 0;
    expect(parseCompound(padded)).toBeNull();
    padded[15] = 13;
    expect(parseCompound(padded)).toBeNull();
  });

  it('rejects the whole compound on any framing error', () => {
    const good = compound([buildSenderReport({ ssrc: 1, ntpMs: 1, rtpTimestamp: 2, packetCount: 3, octetCount: 4 }), buildPli({ senderSsrc: 1, mediaSsrc: 2 })]);
    expect(parseCompound(good)).toHaveLength(2);
    for (let length = 0; length < good.length; length += 1) {
      // cut exactly after the SR, the rest is a valid compound of one
      if (length !== 28) expect(parseCompound(good.subarray(0, length))).toBeNull();
    }
    const wrongVersion = Buffer.from(good);
    wrongVersion[28] = 0x41;
    expect(parseCompound(wrongVersion)).toBeNull();
    const longer = Buffer.from(good);
    longer.writeUInt16BE(7, 2);
    expect(parseCompound(longer)).toBeNull();
    const shortSr = Buffer.from(good.subarray(0, 24));
    shortSr.writeUInt16BE(5, 2);
    expect(parseCompound(shortSr)).toBeNull();
    const rrClaimingBlock = buildReceiverReport({ ssrc: 1 });
    rrClaimingBlock[0] = 0x81;
    expect(parseCompound(rrClaimingBlock)).toBeNull();
    const emptyNack = Buffer.from('81cd00020000000100000002', 'hex');
    expect(parseCompound(emptyNack)).toBeNull();
    const shortApp = Buffer.from(buildRttApp({ ssrc: 1, rttUs: 2 }).subarray(0, 12));
    shortApp.writeUInt16BE(2, 2);
    expect(parseCompound(shortApp)).toBeNull();
  });

  it('refuses more than 16 packets in a compound', () => {
    const pli = buildPli({ senderSsrc: 1, mediaSsrc: 2 });
    expect(parseCompound(compound(Array.from({ length: MAX_COMPOUND_PACKETS }, () => pli)))).toHaveLength(MAX_COMPOUND_PACKETS);
    expect(parseCompound(compound(Array.from({ length: MAX_COMPOUND_PACKETS + 1 }, () => pli)))).toBeNull();
  });

  it('computes the round trip from LSR and DLSR', () => {
    const sentAt = 1_700_000_000_123;
    const lsr = ntpMiddle32(sentAt);
    const held = 50;
    const dlsr = Math.round((held * 65536) / 1000);
    expect(rttFromReport(sentAt + held + 20, lsr, dlsr)).toBeCloseTo(20, 1);
    expect(rttFromReport(sentAt + held + 20, 0, dlsr)).toBeNull();
    // a report claiming it held the SR longer than has passed
    expect(rttFromReport(sentAt + 10, lsr, dlsr)).toBe(0);
  });

  it('estimates the round trip down at once from a lower sample, up a fifth of the way from a higher one', () => {
    // a first sample inflated by a busy start-up, then the link's own
    let estimate = nextRttEstimate(null, 171);
    expect(estimate).toBe(171);
    estimate = nextRttEstimate(estimate, 31);
    expect(estimate).toBe(31);
    // one slow report moves it a little; a rise that persists moves it most of the way
    estimate = nextRttEstimate(estimate, 131);
    expect(estimate).toBeCloseTo(51, 6);
    for (let i = 0; i < 10; i += 1) estimate = nextRttEstimate(estimate, 131);
    expect(estimate).toBeGreaterThan(120);
  });

  it('computes the round trip across the 16-bit wrap of NTP seconds in LSR', () => {
    // NTP seconds ending in 0xffff, plus 999 ms: the middle 32 bits wrap within the round trip
    const ntpSeconds = 0xe900ffff;
    const sentAt = (ntpSeconds - 2_208_988_800) * 1000 + 999;
    const lsr = ntpMiddle32(sentAt);
    expect(lsr >>> 16).toBe(0xffff);
    expect(ntpMiddle32(sentAt + 30) >>> 16).toBe(0);
    expect(rttFromReport(sentAt + 30, lsr, 0)).toBeCloseTo(30, 1);
    expect(rttFromReport(sentAt + 1_500, lsr, Math.round(1.2 * 65536))).toBeCloseTo(300, 1);
  });

  it('never throws on random bytes, nor on random bytes behind a valid RTCP header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const parsed = parseCompound(bytes);
        if (parsed) expect(parsed.length).toBeLessThanOrEqual(MAX_COMPOUND_PACKETS);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.constantFrom(200, 201, 204, 205, 206), fc.integer({ min: 0, max: 63 }), fc.uint8Array({ maxLength: 200 }), (type, first, rest) => {
        const words = Math.floor(rest.length / 4);
        const bytes = Buffer.concat([Buffer.from([0x80 | first, type, words >> 8, words & 0xff]), rest.subarray(0, words * 4)]);
        const parsed = parseCompound(bytes);
        if (parsed) expect(parsed.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 3000 },
    );
  });
});
