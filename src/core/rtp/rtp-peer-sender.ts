import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { blocksForFrame, buildFecPayloads, parityCount } from './fec';
import { absSendTime, ABS_SEND_TIME_BYTES, RTP_HEADER_BYTES } from './rtp-packet';
import { SenderFeedback, type FeedbackCounters } from './sender-feedback';
import { SrtpProtector } from './srtp-gcm';
import { FEC_PAYLOAD_TYPE, type RtpKeys } from './rtp-keys';
import { openRtpTrace } from './rtp-trace';
import { UdpBatchSender } from './udp-batch';
import { Pacer, pacingFactorFromEnv, type PacingSettings } from './pacer';

export type { PeerFeedback } from './sender-feedback';

/** Sent packets kept for retransmission (a power of two): about a second at 720p60, 8 Mbit/s. */
const HISTORY = 2048;
/**
 * A frame's first packet, sealed when its turn comes to leave: it carries its send time (abs-send-time),
 * from which the receiver measures the path's delay without the pacer's wait in it.
 */
interface FrameStart {
  readonly length: number;
  readonly payload: Buffer;
  readonly seq: number;
  readonly marker: boolean;
  readonly timestamp: number;
}

const SRTP_TAG_BYTES = 16;

/** Retransmissions allowed per second (a NACK storm must not multiply the stream). */
const RETRANSMIT_PER_SECOND = 400;
export const REPORT_INTERVAL_MS = 500;

export interface SenderCounters extends FeedbackCounters {
  packetsSent: number;
  bytesSent: number;
  fecPacketsSent: number;
  retransmitted: number;
}

/**
 * One viewer's encrypted RTP stream (the host's side): a frame's media packets, then its FEC, leave
 * through a Pacer (at 1.5 times the target rate past a burst of one average frame; none when built
 * without pacing settings or with GPU_BRIDGE_RTP_PACING=off); sent packets are kept for NACKs; SR and
 * our RTT go out every half second (they also hold the NAT mapping open); PLI becomes a 'keyframe'
 * event, RR a 'feedback' event. The host sends first: the peer answers to the authenticated source.
 */
export class RtpPeerSender extends EventEmitter {
  private readonly sent = { packetsSent: 0, bytesSent: 0, fecPacketsSent: 0, retransmitted: 0 };
  private readonly feedback: SenderFeedback;
  private readonly socket: Socket;
  /** What one turn of the event loop sends leaves in one system call where it can. */
  private readonly out: UdpBatchSender;
  private readonly protector: SrtpProtector;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private readonly fecSsrc = (this.ssrc ^ 0x5a5a5a5a) >>> 0;
  private seq = randomBytes(2).readUInt16BE(0) & 0x7fff;
  private fecSeq = randomBytes(2).readUInt16BE(0) & 0x7fff;
  /** Sent packets by seq % HISTORY, and the seq each slot holds (-1: none): no object per packet. */
  private readonly history: (Buffer | undefined)[] = new Array(HISTORY);
  private readonly historySeq = new Int32Array(HISTORY).fill(-1);
  private frame: { timestamp: number; firstSeq: number; payloads: Buffer[] } | null = null;
  private synced = false;
  private retransmitTokens = RETRANSMIT_PER_SECOND;
  private tokensAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly trace = openRtpTrace('sender');
  private readonly pacer: Pacer<Buffer | FrameStart> | null;
  private readonly pacingFactor: number | null;

  constructor(
    private readonly target: { host: string; port: number },
    keys: RtpKeys,
    private readonly payloadType: number,
    pacing: PacingSettings | null = null,
  ) {
    super();
    this.pacingFactor = pacing ? (pacing.factor ?? pacingFactorFromEnv()) : null;
    this.pacer =
      pacing && this.pacingFactor !== null
        ? new Pacer<Buffer | FrameStart>((packet) => this.out.send(packet instanceof Uint8Array ? packet : this.sealFrameStart(packet)), { ...pacing, factor: this.pacingFactor })
        : null;
    this.protector = new SrtpProtector(keys.media);
    this.feedback = new SenderFeedback(keys.feedback, this.ssrc, {
      resend: (seqs) => {
        for (const seq of seqs) this.retransmit(seq);
      },
      keyframe: () => this.emit('keyframe'),
      feedback: (feedback) => this.emit('feedback', feedback),
      reportNow: () => this.report(),
    });
    this.socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data) => this.feedback.heard(data));
    this.out = new UdpBatchSender(this.socket);
    this.timer = setInterval(() => this.report(), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  get counters(): SenderCounters {
    return { ...this.sent, ...this.feedback.counters };
  }

  get rttMs(): number | null {
    return this.feedback.rttMs;
  }

  get fec() {
    return this.feedback.fec;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, () => resolve()));
    // connected: each send skips the address lookup, and only the peer's datagrams come back here
    await new Promise<void>((resolve, reject) => this.socket.connect(this.target.port, this.target.host, (error?: Error) => (error ? reject(error) : resolve())));
    this.socket.setSendBufferSize(4 << 20);
    this.socket.setRecvBufferSize(1 << 20);
    this.report();
  }

  /**
   * One RTP payload from the encoder. `frameStart` marks the first packet of a frame: a sender that
   * joined mid-frame waits for the next one.
   */
  packet(payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number): void {
    if (this.closed) return;
    if (frameStart) {
      this.synced = true;
      this.frame = { timestamp, firstSeq: this.seq, payloads: [] };
    }
    if (!this.synced || !this.frame) return;
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    this.frame.payloads.push(payload);
    this.sent.packetsSent += 1;
    if (frameStart && this.pacer) {
      // sealed as it leaves, with the time it left
      const start: FrameStart = { length: RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES + payload.length + SRTP_TAG_BYTES, payload, seq, marker, timestamp: this.frame.timestamp };
      this.sent.bytesSent += start.length;
      this.pacer.push(start);
    } else {
      const packet = this.protector.protectRtp({ marker, payloadType: this.payloadType, seq, timestamp: this.frame.timestamp, ssrc: this.ssrc }, payload, frameStart ? absSendTime(performance.now()) : null);
      this.history[seq & (HISTORY - 1)] = packet;
      this.historySeq[seq & (HISTORY - 1)] = seq;
      this.send(packet);
    }
    if (marker) {
      this.sendFec(this.frame);
      this.frame = null;
    }
  }

  private sendFec(frame: { timestamp: number; firstSeq: number; payloads: Buffer[] }): void {
    const blocks = blocksForFrame(frame.payloads.length);
    for (let index = 0; index < blocks.length; index += 1) {
      const block = blocks[index]!;
      const m = parityCount(block.k, this.feedback.fec.ratio);
      if (m === 0) continue;
      // one block (the usual frame): the frame's own list, no copy of it
      const payloads = blocks.length === 1 ? frame.payloads : frame.payloads.slice(block.start, block.start + block.k);
      const fecPayloads = buildFecPayloads({ baseSeq: (frame.firstSeq + block.start) & 0xffff, payloads, endsFrame: index === blocks.length - 1, startsFrame: index === 0 }, m);
      for (const payload of fecPayloads) {
        const seq = this.fecSeq;
        this.fecSeq = (this.fecSeq + 1) & 0xffff;
        this.send(this.protector.protectRtp({ marker: false, payloadType: FEC_PAYLOAD_TYPE, seq, timestamp: frame.timestamp, ssrc: this.fecSsrc }, payload));
        this.sent.fecPacketsSent += 1;
      }
    }
  }

  /** A frame's first packet, its turn come: sealed with the time it leaves, and kept for resends from then. */
  private sealFrameStart(start: FrameStart): Buffer {
    const packet = this.protector.protectRtp({ marker: start.marker, payloadType: this.payloadType, seq: start.seq, timestamp: start.timestamp, ssrc: this.ssrc }, start.payload, absSendTime(performance.now()));
    this.history[start.seq & (HISTORY - 1)] = packet;
    this.historySeq[start.seq & (HISTORY - 1)] = start.seq;
    return packet;
  }

  /** The encoder's new target: the pacing rate follows it. */
  setPacingTarget(settings: PacingSettings): void {
    if (this.pacingFactor !== null) this.pacer?.setTarget({ ...settings, factor: this.pacingFactor });
  }

  /** Paced, unless `now` (RTCP: small, and its timing matters); `urgent` goes ahead of the paced queue. */
  private send(packet: Buffer, how: 'paced' | 'urgent' | 'now' = 'paced'): void {
    if (this.closed) return;
    this.sent.bytesSent += packet.length;
    if (this.pacer && how !== 'now') this.pacer.push(packet, how === 'urgent');
    else this.out.send(packet);
  }

  private retransmit(seq: number): void {
    const now = Date.now();
    this.retransmitTokens = Math.min(RETRANSMIT_PER_SECOND, this.retransmitTokens + ((now - this.tokensAt) / 1000) * RETRANSMIT_PER_SECOND);
    this.tokensAt = now;
    const kept = this.historySeq[seq & (HISTORY - 1)] === seq ? this.history[seq & (HISTORY - 1)] : undefined;
    const refused = !kept ? 'no longer kept' : this.retransmitTokens < 1 ? 'over the resend rate' : null;
    this.trace?.({ at: now, nack: seq, resent: refused === null, why: refused ?? undefined });
    if (!kept || refused) return;
    this.retransmitTokens -= 1;
    // the same bytes again: the receiver never accepted this index, so its replay window lets it in once
    this.send(kept, 'urgent');
    this.sent.retransmitted += 1;
  }

  /** Sender report (for the receiver's RTT report) and our measured RTT; also the NAT keepalive. */
  private report(): void {
    if (this.closed) return;
    this.send(this.protector.protectRtcp(this.feedback.report({ packetCount: this.sent.packetsSent, octetCount: this.sent.bytesSent })), 'now');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.pacer?.close();
    this.trace?.close();
    this.out.close();
    this.socket.close();
  }
}
