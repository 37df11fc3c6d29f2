import { preciseNow } from '../pairing/channel';
import { FecOverhead } from './fec';
import { buildRttApp, buildSenderReport, compound, nextRttEstimate, parseCompound, rttFromReport, type RtcpPacket } from './rtcp';
import { rtpClock, VIDEO_CLOCK_RATE } from './rtp-clock';
import { isRtcp } from './rtp-packet';
import { SrtpUnprotector } from './srtp-gcm';

/** RTT samples before the estimate is sent to the receiver (see onRtcp). */
const TRUSTED_AFTER_SAMPLES = 2;

export interface PeerFeedback {
  rttMs: number | null;
  /** Share of media packets lost before repair, from the receiver's last report (0..1). */
  fractionLost: number;
}

export interface FeedbackCounters {
  nacksReceived: number;
  keyframeRequests: number;
  /** Feedback packets that failed authentication or were replays (dropped). */
  feedbackRejected: number;
}

/**
 * What a viewer's video sender hears back and reports, wherever its packets are sent from (RtpPeerSender
 * in JavaScript, the sender's native data plane through NativeRtpPeerSender): the receiver's RTCP
 * authenticated and parsed (RR: our RTT and its loss, which sets the FEC share; NACK: the resends it asks
 * for; PLI: a keyframe), and our sender report with the RTT we measured.
 */
export class SenderFeedback {
  readonly counters: FeedbackCounters = { nacksReceived: 0, keyframeRequests: 0, feedbackRejected: 0 };
  readonly fec = new FecOverhead();
  rttMs: number | null = null;
  private rttSamples = 0;
  private readonly unprotector: SrtpUnprotector;

  constructor(
    feedbackKey: Buffer,
    private readonly ssrc: number,
    private readonly on: {
      resend(seqs: readonly number[]): void;
      keyframe(): void;
      feedback(feedback: PeerFeedback): void;
      /** A report should go now (see onRtcp). */
      reportNow(): void;
    },
  ) {
    this.unprotector = new SrtpUnprotector(feedbackKey);
  }

  /** A datagram from the viewer's address: what is not authentic RTCP is dropped. */
  heard(data: Buffer): void {
    if (!isRtcp(data)) return;
    const opened = this.unprotector.unprotectRtcp(data);
    if ('error' in opened) {
      this.counters.feedbackRejected += 1;
      return;
    }
    const packets = parseCompound(opened.compound);
    if (!packets) return;
    for (const packet of packets) this.onRtcp(packet);
  }

  private onRtcp(packet: RtcpPacket): void {
    switch (packet.type) {
      case 'rr': {
        if (!packet.block) return;
        const rtt = rttFromReport(preciseNow(), packet.block.lsr, packet.block.dlsr);
        const before = this.rttMs;
        const sampled = rtt !== null && rtt >= 0 && rtt < 10_000;
        if (sampled) {
          this.rttMs = nextRttEstimate(this.rttMs, rtt);
          this.rttSamples += 1;
        }
        // The receiver times its NACKs by our RTT, and gives a frame up at once when it thinks a resend
        // cannot arrive in time. The first sample, taken while both ends start, can read many times the
        // path (266 ms on loopback under load), so it is not sent: its report asks for a second sample now,
        // which goes out; after that, one well below the last goes out at once.
        if (sampled && (this.rttSamples <= TRUSTED_AFTER_SAMPLES || this.rttMs! < 0.8 * before!)) this.on.reportNow();
        const fractionLost = packet.block.fractionLost / 256;
        this.fec.observe(fractionLost);
        this.on.feedback({ rttMs: this.rttMs, fractionLost });
        return;
      }
      case 'nack':
        this.counters.nacksReceived += 1;
        this.on.resend(packet.seqs);
        return;
      case 'pli':
        this.counters.keyframeRequests += 1;
        this.on.keyframe();
        return;
      default:
        return;
    }
  }

  /**
   * Our sender report (for the receiver's RTT report) and our measured RTT, unsealed: now on both clocks
   * (the one the frames' timestamps come from, see RtpOutput), not the last frame's time.
   */
  report(counts: { packetCount: number; octetCount: number }): Buffer {
    const now = preciseNow();
    return compound([
      buildSenderReport({ ssrc: this.ssrc, ntpMs: now, rtpTimestamp: rtpClock(now, VIDEO_CLOCK_RATE), packetCount: counts.packetCount, octetCount: counts.octetCount }),
      // 0: not known yet (the receiver then asks for resends until a frame is due)
      buildRttApp({ ssrc: this.ssrc, rttUs: this.rttSamples >= TRUSTED_AFTER_SAMPLES ? Math.round((this.rttMs ?? 0) * 1000) : 0 }),
    ]);
  }
}
