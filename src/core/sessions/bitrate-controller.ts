/** Frames lost over the last few seconds beyond which the rate steps down (frames in flight read as a few % lost). */
const LOSS_LIMIT = 0.05;
/** Packets the transport saw lost (before its repair) beyond which the link is too busy or too lossy for this rate. */
const PACKET_LOSS_LIMIT = 0.02;

/** What the controller sees each second for one stream. */
export interface LinkSample {
  /** Of the frames the encoder sent over the last few seconds, those the viewer could not read or never got (0..1). */
  lossRatio: number;
  /** The transport's own count of packets lost before repair (SRT or rtp) over the last few seconds (0..1); null where unknown. */
  packetLossRatio?: number | null;
  /**
   * Frames this second that arrived about a round trip later than the settled floor, as a fraction:
   * SRT recovered a lost packet of theirs by retransmission. The viewer sees packet loss this way
   * even when SRT repairs it, before frames start to go missing.
   */
  lateRatio: number;
  /** p95 latency this second, ms. */
  p95Ms: number | null;
  rttMs: number | null;
}

export interface BitrateStep {
  from: number;
  to: number;
  reason: string;
}

/**
 * Adaptive bitrate: steps down 25% when frames are lost (over 5% of a few seconds' worth), when over 10% of frames needed a
 * retransmission, or when latency climbs well above its settled floor (a queue is growing); steps back up 10% after 10 clean seconds, never below
 * `minKbps` or above the requested rate, and at most once per `holdMs`.
 */
export class BitrateController {
  current: number;
  private lastChange = -Infinity;
  private cleanSeconds = 0;
  private floorP95: number | null = null;
  private slowSeconds = 0;

  constructor(
    readonly targetKbps: number,
    readonly minKbps = Math.max(100, Math.round(targetKbps / 5)),
    readonly holdMs = 4000,
  ) {
    this.current = targetKbps;
  }

  /** Returns a step when the bitrate should change now. */
  observe(sample: LinkSample, nowMs: number): BitrateStep | null {
    if (sample.p95Ms !== null) this.floorP95 = this.floorP95 === null ? sample.p95Ms : Math.min(this.floorP95 * 1.01 + 0.1, sample.p95Ms);
    // lateness and latency must persist two seconds: one slow second is a busy CPU, not the network
    const slow = sample.lateRatio > 0.1 || (sample.p95Ms !== null && this.floorP95 !== null && sample.p95Ms > this.floorP95 * 3 + 50);
    this.slowSeconds = slow ? this.slowSeconds + 1 : 0;
    const packetLoss = (sample.packetLossRatio ?? 0) > PACKET_LOSS_LIMIT;
    const congested = sample.lossRatio > LOSS_LIMIT || packetLoss || this.slowSeconds >= 2;
    this.cleanSeconds = congested ? 0 : this.cleanSeconds + 1;
    if (nowMs - this.lastChange < this.holdMs) return null;
    if (congested && this.current > this.minKbps) {
      const to = Math.max(this.minKbps, Math.round(this.current * 0.75));
      const reason =
        sample.lossRatio > LOSS_LIMIT
          ? `${(sample.lossRatio * 100).toFixed(1)}% of frames lost`
          : packetLoss
            ? `the link lost ${((sample.packetLossRatio ?? 0) * 100).toFixed(1)}% of packets (repaired or not)` : sample.lateRatio > 0.1 ? `${(sample.lateRatio * 100).toFixed(0)}% of frames retransmitted` : `latency p95 ${sample.p95Ms} ms`;
      return this.apply(to, nowMs, reason);
    }
    if (this.cleanSeconds >= 10 && this.current < this.targetKbps) {
      const to = Math.min(this.targetKbps, Math.round(this.current * 1.1));
      return this.apply(to, nowMs, '10 s without loss');
    }
    return null;
  }

  private apply(to: number, nowMs: number, reason: string): BitrateStep {
    const step = { from: this.current, to, reason };
    this.current = to;
    this.lastChange = nowMs;
    this.cleanSeconds = 0;
    this.slowSeconds = 0;
    return step;
  }
}
