/** Frames lost over the last few seconds beyond which the rate steps down (frames in flight read as a few % lost). */
const LOSS_LIMIT = 0.05;
/** srt (no delay figures): packets the transport saw lost (before its repair) beyond which the link is too busy or too lossy for this rate. */
const PACKET_LOSS_LIMIT = 0.02;
/** rtp: packet loss this high is more than FEC repairs, with or without a queue (a link whose queue is tiny). */
const HEAVY_PACKET_LOSS = 0.1;
/** rtp: the frames' median queueing delay (ms) above which the path's queue is filling: the link is full. */
const QUEUE_DELAY_MS = 15;
/** rtp: a queue this deep, three seconds running, is full even when it no longer grows (a standing queue). */
const STANDING_QUEUE_MS = 100;
/** rtp: a step down aims below what the link delivered, so its queue drains (GCC's beta). */
const BACKOFF = 0.85;
/** rtp: after a step down, the next waits this long (the new rate takes an encoder run and the queue a moment to drain). */
const DECREASE_HOLD_MS = 2500;
/** rtp: the loss figures span a few seconds (and frames in flight): a step's own cause is not counted twice. */
const LOSS_WINDOW_MS = 6000;
/**
 * rtp: seconds after the last queueing one during which loss is still taken for the queue's (the sender's
 * loss reports come every half second and trail the queue as it drains).
 */
const QUEUE_AFTERMATH_S = 2;
/** rtp: packet headers (RTP, SRTP tag, UDP) per media byte, about. */
const HEADERS = 0.03;
/** rtp: the FEC the sender adds on a clean link (its minimum overhead). */
const BASE_FEC = 0.1;
/**
 * rtp: below this share of the link's ceiling the rate is far from it (a blind step, a low reading) and
 * probes by 15%; nearer, by 5%. Under BACKOFF: a step down for a full link lands at BACKOFF of the ceiling,
 * and with the two equal, float rounding decided whether the next probe jumped to 98% of the link (and
 * filled its queue again within seconds) or crept.
 */
const FAR_BELOW = 0.8;
/** rtp: the link's packet trains this much faster than the rate it carried when full: the narrow part is gone. */
const ROOM_FACTOR = 1.5;

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
  /** rtp: the frames' median queueing delay this second at the receiver (ms); null: the receiver's second has not come. */
  queueDelayMs?: number | null;
  /** rtp: kbit/s the receiver got this second (media, FEC and resends). */
  receivedKbps?: number | null;
  /** rtp: median rate of the frames' packet trains at the receiver (kbit/s). */
  trainKbps?: number | null;
  /** rtp: packets lost before repair this second alone (0..1): loss now, not the window's. */
  secondLossRatio?: number | null;
  /** rtp: the FEC the sender adds now, per media byte (it rises with loss, a full link's too). */
  fecRatio?: number | null;
}

export interface BitrateStep {
  from: number;
  to: number;
  reason: string;
}

/**
 * Adaptive bitrate. With the rtp receiver's delay figures it follows the link's capacity, as WebRTC's
 * delay-based estimator does: it steps down when the path's queue fills (the frames' queueing delay
 * above 15 ms and growing two seconds running, above 100 ms three, or above 15 ms two with loss well
 * beyond the link's random loss), to 85% of
 * the encoder's share of what the link delivered; random loss
 * that FEC repairs moves nothing, more than 10% does. It doubles after 2 clean seconds while the
 * link's packet trains show room (no narrow link, or one far faster than when it was full), else towards
 * what the link carried when full: 15% after 2 clean seconds while well below it, 5% after 8 near it. Without delay figures (srt) it steps down 25% on lost
 * frames, packet loss, retransmissions or latency well above its floor, and up 10% after 10 clean
 * seconds. Never below `minKbps` or above the requested rate; every step has its reason.
 */
export class BitrateController {
  current: number;
  private lastChange = -Infinity;
  private lastDecrease = -Infinity;
  private cleanSeconds = 0;
  private floorP95: number | null = null;
  private slowSeconds = 0;
  /** rtp: seconds running with the queue filling (deeper than QUEUE_DELAY_MS and deeper than the second before). */
  private queueSeconds = 0;
  /** rtp: seconds running with a queue deeper than STANDING_QUEUE_MS. */
  private standingSeconds = 0;
  private lastQueueDelayMs: number | null = null;
  /** rtp: the link's loss while no queue stands (random loss, smoothed): a full queue loses well beyond it. */
  private randomLoss = 0;
  /** rtp: seconds since the last one that showed a queue on the path. */
  private sinceQueue = Infinity;
  /**
   * rtp: the most that got through in a second of the queue standing now (kbit/s), null with no queue: a
   * full link delivers its capacity, and a second that delivered less had less to send (an encoder run
   * restarting for a step) or a starved relay, not a narrower link.
   */
  private fullReceived: number | null = null;
  /** rtp: the last step down was taken blind (frames or packets lost), without the link's rate. */
  private lastDecreaseBlind = false;
  /** rtp: what the link carried when it was last full (media, FEC, resends); null when not known or outgrown. */
  private linkKbps: number | null = null;
  /** rtp: the packet trains' rate when the link was last full (the narrow part's own rate), if measured. */
  private fullTrainKbps: number | null = null;

  constructor(
    readonly targetKbps: number,
    readonly minKbps = Math.max(100, Math.round(targetKbps / 5)),
    readonly holdMs = 4000,
    /** rtp: decide on the receiver's delay figures (a second without them decides nothing); srt: on loss and latency. */
    readonly delayBased = false,
  ) {
    this.current = targetKbps;
  }

  /** Returns a step when the bitrate should change now. */
  observe(sample: LinkSample, nowMs: number): BitrateStep | null {
    if (!this.delayBased) return this.observeLoss(sample, nowMs);
    // the receiver's second has not come (or had no frame): nothing new to judge
    if (sample.queueDelayMs == null) return null;
    return this.observeDelay(sample as LinkSample & { queueDelayMs: number }, nowMs);
  }

  /** rtp: capacity from the path's queue and the packet trains; random loss is FEC's. */
  private observeDelay(sample: LinkSample & { queueDelayMs: number }, nowMs: number): BitrateStep | null {
    const packetLoss = sample.packetLossRatio ?? 0;
    const queueing = sample.queueDelayMs > QUEUE_DELAY_MS;
    // a filling queue grows; a busy CPU's late seconds come and go (and a full tail-drop queue also loses)
    const growing = queueing && this.lastQueueDelayMs !== null && sample.queueDelayMs > this.lastQueueDelayMs + 5;
    const queuedBefore = this.lastQueueDelayMs !== null && this.lastQueueDelayMs > QUEUE_DELAY_MS;
    this.lastQueueDelayMs = sample.queueDelayMs;
    this.queueSeconds = growing ? this.queueSeconds + 1 : 0;
    this.standingSeconds = sample.queueDelayMs > STANDING_QUEUE_MS ? this.standingSeconds + 1 : 0;
    // the loss figures span LOSS_WINDOW_MS: right after a step down they still hold its cause
    const lossFresh = nowMs - this.lastDecrease >= LOSS_WINDOW_MS;
    // frames lost as a queue appears wait a second: the link's own figures decide then (or it was not the link)
    const framesLost = lossFresh && sample.lossRatio > LOSS_LIMIT && !(queueing && !queuedBefore);
    const heavyLoss = lossFresh && packetLoss > HEAVY_PACKET_LOSS;
    // a queue two seconds running and loss in the second: the queue overflows (the window's loss may be an
    // earlier step's cause; one late second with random loss is a busy CPU on a lossy link)
    const lossNow = sample.secondLossRatio ?? (lossFresh ? packetLoss : 0);
    this.sinceQueue = queueing ? 0 : this.sinceQueue + 1;
    // random loss is what the link loses with no queue, nor one just drained (its tail drop trails it)
    if (this.sinceQueue > QUEUE_AFTERMATH_S) this.randomLoss = 0.8 * this.randomLoss + 0.2 * lossNow;
    const bottleneckLoss = queueing && queuedBefore && lossNow > Math.max(PACKET_LOSS_LIMIT, 2 * this.randomLoss + 0.01);
    const full = this.queueSeconds >= 2 || this.standingSeconds >= 3 || bottleneckLoss;
    const congested = full || framesLost || heavyLoss;
    const clear = !congested && !queueing;
    this.cleanSeconds = clear ? this.cleanSeconds + 1 : 0;
    const reading = sample.receivedKbps ?? null;
    this.fullReceived = queueing && reading !== null ? Math.max(this.fullReceived ?? 0, reading) : queueing ? this.fullReceived : null;
    if (congested) {
      const received = linkFullReading(full, this.fullReceived, reading);
      // what got through, less the FEC and headers on top of the encoder's rate: now (to drain the queue
      // with the FEC a full link's loss has raised), and once that FEC is back to its base (the probes' ceiling)
      const linkFull = full;
      const known = received !== null && received > 0;
      // a blind step (frames lost as the queue came) does not hold back the one the link's rate informs: the
      // blind one took 15% off a rate perhaps far above the link, and its hold kept the stream over the link
      const informedAfterBlind = linkFull && known && this.lastDecreaseBlind && BACKOFF * this.mediaShare(received, sample) < 0.9 * this.current;
      if ((nowMs - this.lastDecrease < DECREASE_HOLD_MS && !informedAfterBlind) || this.current <= this.minKbps) return null;
      if (linkFull && known) {
        this.linkKbps = received;
        this.fullTrainKbps = sample.trainKbps ?? null;
      }
      const byLink = linkFull && known ? BACKOFF * this.mediaShare(received, sample) : Infinity;
      const to = Math.max(this.minKbps, Math.round(Math.min(this.current * BACKOFF, byLink)));
      const lostFrames = framesLost ? `, ${(sample.lossRatio * 100).toFixed(1)}% of frames lost` : '';
      const reason = linkFull
        ? `the link is full: queueing delay ${sample.queueDelayMs} ms${lossNow > PACKET_LOSS_LIMIT ? `, ${(lossNow * 100).toFixed(1)}% of packets lost` : ''}${lostFrames}${received !== null ? `, ${received} kbit/s got through` : ''}`
        : framesLost
          ? `${(sample.lossRatio * 100).toFixed(1)}% of frames lost`
          : `the link lost ${(packetLoss * 100).toFixed(1)}% of packets, more than FEC repairs`;
      this.lastDecrease = nowMs;
      this.lastDecreaseBlind = !(linkFull && known);
      return this.apply(to, nowMs, reason);
    }
    if (this.current >= this.targetKbps || nowMs - this.lastChange < DECREASE_HOLD_MS) return null;
    const train = sample.trainKbps ?? null;
    // trains against trains where both are known (the narrow part's rate), else against what got through
    const fullRate = this.fullTrainKbps ?? this.linkKbps;
    const room = this.linkKbps === null || (train !== null && fullRate !== null && train > ROOM_FACTOR * fullRate);
    if (room && this.cleanSeconds >= 2) {
      this.linkKbps = null;
      this.fullTrainKbps = null;
      const reason = train === null ? 'no queue on the link' : `no queue on the link, its packet trains at ${train >= 1_000_000 ? 'over 1 Gbit/s' : `${train} kbit/s`}`;
      return this.apply(Math.min(this.targetKbps, Math.round(this.current * 2)), nowMs, reason);
    }
    // below the capacity the link showed when full: up to it, by 15% while well below, then 5% at a time (a
    // link that grew by half shows in its trains)
    if (room || this.linkKbps === null) return null;
    // the encoder's share of it with the FEC of now (a full link's loss raised it; it falls back as the loss goes)
    const ceiling = Math.round(this.mediaShare(this.linkKbps, sample));
    const far = this.current < FAR_BELOW * ceiling;
    const probe = Math.min(this.targetKbps, Math.round(this.current * (far ? 1.15 : 1.05)), ceiling);
    if (this.cleanSeconds >= (far ? 2 : 8) && probe > this.current) return this.apply(probe, nowMs, `${far ? 2 : 8} s without a queue: towards the ${ceiling} kbit/s of the ${this.linkKbps} the link carried when full that leaves room for FEC`);
    return null;
  }

  /**
   * rtp: while the path's queue fills and for QUEUE_AFTERMATH_S after, the loss the link showed without one
   * (the sender's FEC covers that much, not the queue's own tail drop); null while no queue stands (or
   * without delay figures).
   */
  get queueLoss(): number | null {
    return this.delayBased && this.sinceQueue <= QUEUE_AFTERMATH_S ? this.randomLoss : null;
  }

  /** rtp: what the link carried when it was last full (kbit/s), while that is its known capacity; else null. */
  get linkCapKbps(): number | null {
    return this.linkKbps;
  }

  /** srt: no delay figures at the receiver: loss, retransmissions and latency say the link is full. */
  private observeLoss(sample: LinkSample, nowMs: number): BitrateStep | null {
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

  /** Of what the link carries, the encoder's share: the rest is packet headers and the FEC the sender adds now. */
  private mediaShare(linkKbps: number, sample: LinkSample): number {
    return linkKbps / (1 + HEADERS + Math.max(BASE_FEC, sample.fecRatio ?? BASE_FEC));
  }

  private apply(to: number, nowMs: number, reason: string): BitrateStep {
    const step = { from: this.current, to, reason };
    this.current = to;
    this.lastChange = nowMs;
    this.cleanSeconds = 0;
    this.queueSeconds = 0;
    this.standingSeconds = 0;
    this.slowSeconds = 0;
    return step;
  }
}

/** What got through of a full link: the best second of the queue standing now, else this second's reading. */
function linkFullReading(full: boolean, best: number | null, reading: number | null): number | null {
  return full && best !== null && reading !== null ? Math.max(best, reading) : reading;
}
