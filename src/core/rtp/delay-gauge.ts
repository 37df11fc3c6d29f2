/** One second of what the media packets' arrival says about the link (sent to the host in stream.stats). */
export interface LinkGauge {
  /**
   * How much later than the fastest the frames' first packets came this second (median, ms): the
   * one-way delay (arrival on our clock minus the time the packet left the host: its abs-send-time stamp,
   * after the pacer's wait; from a host without stamps, the RTP timestamp, the frame's time, pacer's wait
   * included) above its minimum over the last 10 s. A queue filling on the path shows here before any loss.
   */
  queueDelayMs: number | null;
  /** Media, FEC and resent bits that arrived this second (kbit/s): what the link carried of the stream. */
  receivedKbps: number;
  /**
   * Median rate at which a frame's packets arrived (kbit/s), for frames of 3 packets or more: the host
   * sends an ordinary frame in one burst, so a narrow link spaces its packets out at its own rate; an
   * open link delivers them back to back (capped at MAX_TRAIN_KBPS). Null when no frame qualified.
   */
  trainKbps: number | null;
}

const BASE_WINDOW_SECONDS = 10;
/** Trains faster than this read as this: loopback and LAN bursts, where the clock cannot tell. */
export const MAX_TRAIN_KBPS = 1_000_000;
const RTP_CLOCK_PER_MS = 90;
/** abs-send-time: 2^18 a second, 24 bits. */
const SEND_STAMP_PER_MS = 262.144;
const SEND_STAMP_WRAP = 0x1000000;

/**
 * Per media packet, at the receiver: the first packet of each frame gives a one-way delay sample
 * (relative: the two clocks' offset is in every sample and cancels against the minimum), each
 * frame's packets a train. Constant work per packet.
 */
export class DelayGauge {
  private timestampBase: number | null = null;
  private frame: { timestamp: number; firstAt: number; lastAt: number; bytes: number; firstBytes: number; packets: number } | null = null;
  private delays: number[] = [];
  private trains: number[] = [];
  private bytes = 0;
  /** Minimum one-way delay of each of the last seconds (the newest last). */
  private minima: number[] = [];
  private secondMin = Infinity;
  /** The last send stamp and its time unwrapped (ms); null until the first. */
  private stamp: { raw: number; ms: number } | null = null;

  /** An FEC packet or a resend: it counts towards what the link carried, not towards delays or trains. */
  fec(bytes: number): void {
    this.bytes += bytes;
  }

  /**
   * A media packet that arrived the first time (not a resend), `now` ms on our clock; `sendStamp` its
   * abs-send-time, where it carries one (the host stamps each frame's first packet).
   */
  packet(timestamp: number, bytes: number, now: number, sendStamp: number | null = null): void {
    this.bytes += bytes;
    const frame = this.frame;
    if (frame && frame.timestamp === timestamp) {
      frame.lastAt = now;
      frame.bytes += bytes;
      frame.packets += 1;
      return;
    }
    if (frame) this.closeTrain(frame);
    this.frame = { timestamp, firstAt: now, lastAt: now, bytes, firstBytes: bytes, packets: 1 };
    const sentMs = this.sentMs(timestamp, sendStamp);
    // a stamped stream's frame whose stamped first packet was lost: no sample (the two clocks' offsets differ)
    if (sentMs === null) return;
    const delay = now - sentMs;
    this.delays.push(delay);
    if (delay < this.secondMin) this.secondMin = delay;
  }

  /** When the frame's first packet left the host (ms, relative), or null where it cannot be told on the stream's clock. */
  private sentMs(timestamp: number, sendStamp: number | null): number | null {
    if (sendStamp !== null) {
      // 24 bits wrap every 64 s: each step from the last stamp is the nearer way round
      const previous = this.stamp;
      if (previous === null) {
        // samples from the frames' timestamps before (another clock): not the stamps' minimum
        this.minima = [];
        this.delays = [];
        this.secondMin = Infinity;
      }
      const step = previous === null ? 0 : ((((sendStamp - previous.raw) % SEND_STAMP_WRAP) + SEND_STAMP_WRAP * 1.5) % SEND_STAMP_WRAP) - SEND_STAMP_WRAP / 2;
      this.stamp = { raw: sendStamp, ms: (previous?.ms ?? sendStamp / SEND_STAMP_PER_MS) + step / SEND_STAMP_PER_MS };
      return this.stamp.ms;
    }
    if (this.stamp !== null) return null;
    this.timestampBase ??= timestamp;
    // 32-bit RTP time since the first frame: wraps after 13 hours, when the minimum catches up within 10 s
    return ((timestamp - this.timestampBase) >>> 0) / RTP_CLOCK_PER_MS;
  }

  private closeTrain(frame: { firstAt: number; lastAt: number; bytes: number; firstBytes: number; packets: number }): void {
    if (frame.packets < 3 || this.trains.length >= 1000) return;
    const spanMs = frame.lastAt - frame.firstAt;
    const kbps = spanMs > 0 ? ((frame.bytes - frame.firstBytes) * 8) / spanMs : MAX_TRAIN_KBPS;
    this.trains.push(Math.min(MAX_TRAIN_KBPS, kbps));
  }

  /** The second's figures; starts the next second. */
  second(): LinkGauge {
    if (Number.isFinite(this.secondMin)) this.minima.push(this.secondMin);
    if (this.minima.length > BASE_WINDOW_SECONDS) this.minima.shift();
    const base = this.minima.length > 0 ? Math.min(...this.minima) : null;
    const excess = base === null ? [] : this.delays.map((delay) => delay - base);
    const gauge: LinkGauge = {
      queueDelayMs: excess.length > 0 ? round1(median(excess)) : null,
      receivedKbps: Math.round((this.bytes * 8) / 1000),
      trainKbps: this.trains.length > 0 ? Math.round(median(this.trains)) : null,
    };
    this.delays = [];
    this.trains = [];
    this.bytes = 0;
    this.secondMin = Infinity;
    return gauge;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
