import { randomBytes } from 'node:crypto';
import { buildNack, buildPli, buildReceiverReport, compound, ntpMiddle32, parseCompound } from './rtcp';
import type { SrtpProtector } from './srtp-gcm';

/** What the receiver has seen of the media stream, for its reports (RFC 3550 A.3). */
export interface Reception {
  /** Extended highest sequence number, null before any media. */
  highest: number | null;
  /** Media packets the sender has sent so far, from the first sequence number seen to the highest. */
  expected: number;
  /** Media packets that arrived the first time. */
  originals: number;
  mediaSsrc: number | null;
}

/**
 * The receiver's side of RTCP, whoever reads the datagrams (rtp-receiver.ts in JavaScript, or the native
 * data plane): what the host's sender reports and round-trip reports say, and the receiver reports,
 * NACKs and PLIs sealed back to it.
 */
export class RtcpFeedback {
  readonly ssrc = randomBytes(4).readUInt32BE(0);
  /** The round trip the host measured and sent us (ms), null before its first measurement. */
  rttMs: number | null = null;
  private lastSr: { ssrc: number; middle: number; at: number } | null = null;
  private reported = { expected: 0, originals: 0 };

  constructor(
    private readonly protector: SrtpProtector,
    private readonly reception: () => Reception,
    private readonly send: (packet: Buffer) => void,
  ) {}

  /** An authenticated compound from the host. */
  heard(opened: Buffer): void {
    for (const packet of parseCompound(opened) ?? []) {
      if (packet.type === 'sr') this.lastSr = { ssrc: packet.ssrc, middle: ntpMiddle32(packet.ntpMs), at: Date.now() };
      else if (packet.type === 'app' && packet.rttUs > 0) this.rttMs = packet.rttUs / 1000;
    }
    // until the round trip is known, each sender report is answered at once: NACK timing needs it early
    if (this.rttMs === null && this.lastSr) this.report();
  }

  /** A receiver report with a NACK for `nack` (16-bit sequence numbers) and a PLI where asked; nothing before any media. */
  feedback(nack: readonly number[], pli: boolean): void {
    const mediaSsrc = this.reception().mediaSsrc;
    if (mediaSsrc === null) return;
    const packets: Buffer[] = [this.receiverReport()];
    if (nack.length > 0) packets.push(buildNack({ senderSsrc: this.ssrc, mediaSsrc, seqs: nack.slice(0, 64 * 17) }));
    if (pli) packets.push(buildPli({ senderSsrc: this.ssrc, mediaSsrc }));
    this.send(this.protector.protectRtcp(compound(packets)));
  }

  /** The receiver report every half second: loss and RTT for the host, and the NAT keepalive. */
  report(): void {
    this.send(this.protector.protectRtcp(compound([this.receiverReport()])));
  }

  private receiverReport(): Buffer {
    const { highest, expected, originals, mediaSsrc: media } = this.reception();
    // before any media, the sender report's SSRC (the same stream) lets the block carry LSR for the RTT
    const mediaSsrc = media ?? this.lastSr?.ssrc ?? null;
    if (mediaSsrc === null) return buildReceiverReport({ ssrc: this.ssrc });
    const expectedInterval = expected - this.reported.expected;
    const originalsInterval = originals - this.reported.originals;
    this.reported = { expected, originals };
    const lostInterval = Math.max(0, expectedInterval - originalsInterval);
    const fractionLost = expectedInterval > 0 ? Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)) : 0;
    const sr = this.lastSr;
    return buildReceiverReport({
      ssrc: this.ssrc,
      block: {
        ssrc: mediaSsrc,
        fractionLost,
        cumulativeLost: Math.max(0, Math.min(0x7fffff, expected - originals)),
        highestSeq: (highest ?? 0) >>> 0,
        jitter: 0,
        lsr: sr?.middle ?? 0,
        dlsr: sr ? Math.round(((Date.now() - sr.at) / 1000) * 65536) : 0,
      },
    });
  }
}
