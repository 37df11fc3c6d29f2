/**
 * The send stamp (abs-send-time on each frame's first packet): written and read back through SRTP, and
 * the delay gauge measuring from it, so a frame held in the sender's pacer is not read as a queue on the path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DelayGauge } from '../../../src/core/rtp/delay-gauge';
import { FecOverhead } from '../../../src/core/rtp/fec';
import { absSendTime, ABS_SEND_TIME_BYTES, parseRtpHeader, readAbsSendTime, RTP_HEADER_BYTES, writeRtpHeader } from '../../../src/core/rtp/rtp-packet';
import { newMaster, SrtpProtector, SrtpUnprotector } from '../../../src/core/rtp/srtp-gcm';

const header = { marker: false, payloadType: 96, seq: 7, timestamp: 90_000, ssrc: 0x1234 };

describe('send stamp (abs-send-time)', () => {
  it('is written after the fixed header and read back; a header without it reads null', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), (stamp) => {
        const bytes = writeRtpHeader(header, Buffer.alloc(40), stamp);
        expect(bytes.length).toBe(RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES);
        expect(parseRtpHeader(bytes)!.headerLength).toBe(RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES);
        expect(readAbsSendTime(bytes)).toBe(stamp);
      }),
      { numRuns: 500 },
    );
    expect(readAbsSendTime(writeRtpHeader(header))).toBeNull();
    expect(absSendTime(1000)).toBe(1 << 18);
    expect(absSendTime(64_000)).toBe(0); // wraps every 64 s
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => void readAbsSendTime(bytes)), { numRuns: 2000 });
  });

  it('rides SRTP in the authenticated header: the payload opens, the stamp reads, a changed stamp is refused', () => {
    const master = newMaster();
    const packet = new SrtpProtector(master).protectRtp(header, Buffer.from('frame start'), 0xabcdef);
    expect(readAbsSendTime(packet)).toBe(0xabcdef);
    const opened = new SrtpUnprotector(master).unprotectRtp(Buffer.from(packet));
    expect('payload' in opened && opened.payload.toString()).toBe('frame start');
    const forged = Buffer.from(packet);
    forged[19] = forged[19]! ^ 1;
    expect(new SrtpUnprotector(master).unprotectRtp(forged)).toEqual({ error: 'auth' });
  });
});

describe('delay gauge from send stamps', () => {
  /** 60 frames a second of 3 packets; each frame left `waitMs(i)` after its timestamp and took `pathMs(i)` on the path. */
  function second(gauge: DelayGauge, from: number, waitMs: (i: number) => number, pathMs: (i: number) => number, stamped: boolean) {
    for (let i = from; i < from + 60; i += 1) {
      const frameMs = i * (1000 / 60);
      const leftAt = frameMs + waitMs(i);
      for (let p = 0; p < 3; p += 1) gauge.packet(Math.round(frameMs * 90), 1200, leftAt + pathMs(i) + p * 0.1, p === 0 && stamped ? absSendTime(leftAt) : null);
    }
    return gauge.second();
  }

  it('a frame held in the pacer is no queue on the path; the path\'s own queue still shows', () => {
    const held = (i: number) => (i % 4) * 10; // up to 30 ms waiting in the pacer
    const stamped = new DelayGauge();
    second(stamped, 0, () => 0, () => 5, true);
    expect(second(stamped, 60, held, () => 5, true).queueDelayMs).toBe(0);
    expect(second(stamped, 120, held, () => 45, true).queueDelayMs).toBe(40);
    // without stamps (an older host) the pacer's wait reads as queueing, as before
    const unstamped = new DelayGauge();
    second(unstamped, 0, () => 0, () => 5, false);
    expect(second(unstamped, 60, held, () => 5, false).queueDelayMs).toBeGreaterThanOrEqual(10);
  });

  it('follows the stamps across their 64 s wrap', () => {
    const gauge = new DelayGauge();
    let last = null;
    // frames from 62 s to 66 s: the stamps wrap at 64 s
    for (let s = 0; s < 4; s += 1) last = second(gauge, 62 * 60 + s * 60, () => 0, () => 5, true);
    expect(last!.queueDelayMs).toBe(0);
  });
});

describe('FEC held while the link\'s queue is full', () => {
  it('follows the random loss given, not the queue\'s tail drop; reported loss counts again after release', () => {
    const fec = new FecOverhead();
    fec.observe(0.01);
    const clean = fec.ratio;
    fec.hold(0.01);
    fec.observe(0.4); // the bottleneck's own loss
    expect(fec.ratio).toBeCloseTo(0.1 + 4 * 0.01);
    expect(fec.ratio).toBeLessThanOrEqual(clean);
    fec.release();
    fec.observe(0.03);
    expect(fec.ratio).toBeCloseTo(0.1 + 4 * 0.03);
  });
});
