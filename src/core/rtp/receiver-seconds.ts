/** A receiver's running totals, as both rtp receivers (JavaScript and native) keep them. */
export interface ReceiverTotals {
  /** Media packets that arrived the first time. */
  received: number;
  /** Media packets missing before any repair (FEC or NACK): expected less received. */
  lost: number;
  fecRecovered: number;
  nackRecovered: number;
  framesLost: number;
  framesSkipped: number;
  keyframeRequests: number;
  nacksSent: number;
  /** Datagrams dropped unread: failed authentication, replays, malformed. */
  rejected: number;
}

const ZERO: ReceiverTotals = { received: 0, lost: 0, fecRecovered: 0, nackRecovered: 0, framesLost: 0, framesSkipped: 0, keyframeRequests: 0, nacksSent: 0, rejected: 0 };

/** Each second's share of the totals: what came since the last call. */
export class ReceiverSeconds {
  private base: ReceiverTotals = ZERO;

  next(totals: ReceiverTotals): ReceiverTotals {
    const base = this.base;
    this.base = { ...totals };
    return {
      received: totals.received - base.received,
      lost: Math.max(0, totals.lost - base.lost),
      fecRecovered: totals.fecRecovered - base.fecRecovered,
      nackRecovered: totals.nackRecovered - base.nackRecovered,
      framesLost: totals.framesLost - base.framesLost,
      framesSkipped: totals.framesSkipped - base.framesSkipped,
      keyframeRequests: totals.keyframeRequests - base.keyframeRequests,
      nacksSent: totals.nacksSent - base.nacksSent,
      rejected: totals.rejected - base.rejected,
    };
  }
}
