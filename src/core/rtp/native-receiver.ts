import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { preciseNow } from '../pairing/channel';
import type { RtpVideoCodec } from './depacketize';
import type { AssembledFrame } from './frame-assembler';
import { readNativeEvents } from './native-events';
import type { NativeGaugeSecond, NativeRtp, NativeRxStats } from './native-rtp-lib';
import { RtcpFeedback } from './rtcp-feedback';
import { ReceiverSeconds } from './receiver-seconds';
import type { RtpReceiverOptions, RtpSecond } from './rtp-receiver';
import { deriveSessionKeys, SrtpProtector, SrtpUnprotector } from './srtp-gcm';

const REPORT_INTERVAL_MS = 500;
const EVENT_RTCP = 1;
const EVENT_FEEDBACK = 2;
const EVENT_FRAME = 3;
const RTCP_ADDRESS_BYTES = 20;
const FRAME_HEAD_BYTES = 16;
const NO_STATS: NativeRxStats = {
  originals: 0, expected: 0, highest: -1, media_ssrc: -1, rejected: 0, last_authentic_at: -1, events_dropped: 0, decoder_frames_dropped: 0, now: 0,
  assembler: { frames_delivered: 0, frames_lost: 0, frames_skipped: 0, fec_recovered: 0, nack_recovered: 0, nacks_sent: 0, keyframe_requests: 0, clean_count: 0 },
};

/**
 * The peer's end of the rtp transport on the native data plane (native/rtp/receiver.c): the same as
 * RtpReceiver, but the datagrams, their decryption, FEC, NACK decisions, the assembler and (with
 * `attach(fd)`) the MPEG-TS to the decoder run on a thread of its own, and this process hears only of
 * RTCP, feedback to send and the per-second figures. Events: 'second' (RtpSecond), and 'frame'
 * (AssembledFrame) when attached with no decoder fd.
 */
export class NativeRtpReceiver extends EventEmitter {
  port = 0;
  private lastRtcpAt: number | null = null;
  private rx: unknown = null;
  private readonly unprotector: SrtpUnprotector;
  private readonly feedback: RtcpFeedback;
  private eventFd = -1;
  private events: Socket | null = null;
  private rttSent: number | null = null;
  private rtcpRejected = 0;
  /** RTCP datagrams this thread authenticated (the data plane passes at most 200 a second). */
  private rtcpChecked = 0;
  /** gb_rx_now() minus preciseNow(): the two clocks, for frames' arrival times. */
  private clockOffset = 0;
  private readonly stats: Partial<NativeRxStats> = {};
  private readonly seconds = new ReceiverSeconds();
  private readonly reportTimer: NodeJS.Timeout;
  private readonly secondTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly lib: NativeRtp,
    private readonly options: RtpReceiverOptions,
  ) {
    super();
    this.unprotector = new SrtpUnprotector(options.keys.media);
    this.feedback = new RtcpFeedback(
      new SrtpProtector(options.keys.feedback),
      () => {
        const s = this.readStats();
        return { highest: s.highest < 0 ? null : s.highest, expected: s.expected, originals: s.originals, mediaSsrc: s.media_ssrc < 0 ? null : s.media_ssrc };
      },
      (sealed) => {
        if (!this.closed && this.rx) this.lib.rxSend(this.rx, sealed, sealed.length);
      },
    );
    this.reportTimer = setInterval(() => this.feedback.report(), REPORT_INTERVAL_MS);
    this.reportTimer.unref();
    this.secondTimer = setInterval(() => this.emitSecond(), 1000);
    this.secondTimer.unref();
  }

  /** Binds the socket (the thread starts with `attach`). */
  async start(): Promise<number> {
    if (this.closed || this.rx) throw new Error('the native rtp receiver was started already or is closed');
    const { listen, port, keys, codec } = this.options;
    const session = deriveSessionKeys(keys.media);
    const err = Buffer.alloc(512);
    const rx = this.lib.rxNew(listen, port, session.rtpKey, session.rtpSalt, codecNumber(codec), err, err.length);
    if (!rx) throw new Error(`the rtp receiver could not listen on ${listen}:${port}: ${err.toString('utf8', 0, Math.max(0, err.indexOf(0)))}`);
    this.rx = rx;
    this.port = this.lib.rxPort(rx);
    this.eventFd = this.lib.rxEventFd(rx);
    return this.port;
  }

  /**
   * Starts the data plane: the MPEG-TS into `decoderFd` (the decoder's stdin, never written from here
   * meanwhile), or with null each frame as a 'frame' event.
   */
  attach(decoderFd: number | null): void {
    if (!this.rx || this.events) throw new Error('the native rtp receiver is not started, or attached already');
    this.clockOffset = this.lib.now() - preciseNow();
    this.events = readNativeEvents(this.eventFd, (type, body) => this.onEvent(type, body));
    if (this.lib.rxStart(this.rx, decoderFd ?? -1) !== 0) throw new Error('the native rtp receiver thread could not start');
  }

  get rttMs(): number | null {
    return this.feedback.rttMs;
  }

  /** When the last authenticated datagram came (preciseNow ms), null before the first. */
  get lastAuthenticAt(): number | null {
    const s = this.readStats();
    const media = s.last_authentic_at < 0 ? null : preciseNow() - (s.now - s.last_authentic_at);
    if (media === null) return this.lastRtcpAt;
    return this.lastRtcpAt === null ? media : Math.max(media, this.lastRtcpAt);
  }

  get counters() {
    const s = this.readStats();
    const a = s.assembler;
    return {
      framesDelivered: a.frames_delivered, framesLost: a.frames_lost, framesSkipped: a.frames_skipped, fecRecovered: a.fec_recovered, nackRecovered: a.nack_recovered,
      nacksSent: a.nacks_sent, keyframeRequests: a.keyframe_requests, cleanPictureMs: [] as number[], rejected: s.rejected + this.rtcpRejected, originals: s.originals,
      decoderFramesDropped: s.decoder_frames_dropped, eventsDropped: s.events_dropped, rtcpChecked: this.rtcpChecked,
    };
  }

  private readStats(): NativeRxStats {
    if (!this.rx) return NO_STATS;
    this.lib.rxStats(this.rx, this.stats);
    return this.stats as NativeRxStats;
  }

  private onEvent(type: number, body: Buffer): void {
    if (this.closed) return;
    if (type === EVENT_RTCP) {
      if (body.length < RTCP_ADDRESS_BYTES) return;
      this.rtcpChecked += 1;
      const opened = this.unprotector.unprotectRtcp(body.subarray(RTCP_ADDRESS_BYTES));
      if ('error' in opened) {
        this.rtcpRejected += 1;
        return;
      }
      this.lib.rxAdoptRemote(this.rx, body.subarray(0, RTCP_ADDRESS_BYTES));
      this.lastRtcpAt = preciseNow();
      this.feedback.heard(opened.compound);
      const rtt = this.feedback.rttMs;
      if (rtt !== null && rtt !== this.rttSent) {
        this.rttSent = rtt;
        this.lib.rxSetRtt(this.rx, rtt);
      }
    } else if (type === EVENT_FEEDBACK) {
      if (body.length < 4) return;
      const count = Math.min(body.readUInt16LE(2), (body.length - 4) >> 1);
      const nack = Array.from({ length: count }, (_, i) => body.readUInt16LE(4 + 2 * i));
      this.feedback.feedback(nack, body[0] === 1);
    } else if (type === EVENT_FRAME) {
      if (body.length < FRAME_HEAD_BYTES) return;
      const frame: AssembledFrame = {
        timestamp: body.readUInt32LE(0),
        keyframe: body[4] === 1,
        firstArrival: body.readDoubleLE(8) - this.clockOffset,
        data: body.subarray(FRAME_HEAD_BYTES),
      };
      this.emit('frame', frame);
    }
  }

  private emitSecond(): void {
    if (!this.rx) return;
    const s = this.readStats();
    const a = s.assembler;
    const gauge: Partial<NativeGaugeSecond> = {};
    const cleanMax = new Float64Array(1);
    this.lib.rxTakeSecond(this.rx, gauge, cleanMax);
    const second: RtpSecond = {
      ...this.seconds.next({
        received: s.originals, lost: Math.max(0, s.expected - s.originals), fecRecovered: a.fec_recovered, nackRecovered: a.nack_recovered, framesLost: a.frames_lost,
        framesSkipped: a.frames_skipped, keyframeRequests: a.keyframe_requests, nacksSent: a.nacks_sent, rejected: s.rejected + this.rtcpRejected,
      }),
      cleanPictureMs: cleanMax[0]! >= 0 ? Math.round(cleanMax[0]!) : null,
      rttMs: this.feedback.rttMs,
      queueDelayMs: gauge.has_queue_delay ? gauge.queue_delay_ms! : null,
      receivedKbps: gauge.received_kbps ?? 0,
      trainKbps: gauge.has_train ? gauge.train_kbps! : null,
    };
    this.emit('second', second);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reportTimer);
    clearInterval(this.secondTimer);
    if (!this.rx) return;
    this.lib.rxClose(this.rx);
    // freed: every later read (counters, lastAuthenticAt) gets NO_STATS
    this.rx = null;
    // the event pipe's read end is ours: closed with its handle (or here, where it never had one)
    if (this.events) this.events.destroy();
    else closeSync(this.eventFd);
  }
}

function codecNumber(codec: RtpVideoCodec): number {
  return codec === 'h264' ? 0 : 1;
}
