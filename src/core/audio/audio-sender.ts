import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { preciseNow } from '../pairing/channel';
import { buildRttApp, buildSenderReport, compound, nextRttEstimate, parseCompound, rttFromReport } from '../rtp/rtcp';
import { isRtcp } from '../rtp/rtp-packet';
import type { RtpKeys } from '../rtp/rtp-keys';
import { rtpClock } from '../rtp/rtp-clock';
import { SrtpProtector, SrtpUnprotector } from '../rtp/srtp-gcm';
import { OPUS_CLOCK_RATE, OPUS_PAYLOAD_TYPE } from './audio-keys';

/** Sent packets kept for NACKs (a power of two): 640 ms of 10 ms frames, more than any repair can use. */
const HISTORY = 64;
const REPORT_INTERVAL_MS = 500;
/** Resends allowed per second: at most the stream itself again. */
const RETRANSMIT_PER_SECOND = 100;

export interface AudioSenderCounters {
  packetsSent: number;
  bytesSent: number;
  retransmitted: number;
  nacksReceived: number;
  feedbackRejected: number;
}

/**
 * One viewer's encrypted Opus stream (RFC 7587 payload, AES-256-GCM under the audio key context): its
 * own UDP socket, so a packet never queues behind a video frame's burst in the video socket's buffer.
 * Sender reports map the stream's timestamps to the host's clock (the one video stamps with too);
 * NACKs are answered from a short history.
 */
export class AudioRtpSender {
  readonly counters: AudioSenderCounters = { packetsSent: 0, bytesSent: 0, retransmitted: 0, nacksReceived: 0, feedbackRejected: 0 };
  rttMs: number | null = null;
  private readonly socket: Socket;
  private readonly protector: SrtpProtector;
  private readonly unprotector: SrtpUnprotector;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private seq = randomBytes(2).readUInt16BE(0) & 0x7fff;
  private readonly history: ({ seq: number; packet: Buffer } | undefined)[] = new Array(HISTORY);
  private tokens = RETRANSMIT_PER_SECOND;
  private tokensAt = Date.now();
  private first = true;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly target: { host: string; port: number },
    keys: RtpKeys,
  ) {
    this.protector = new SrtpProtector(keys.media);
    this.unprotector = new SrtpUnprotector(keys.feedback);
    this.socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data) => this.onFeedback(data));
    this.timer = setInterval(() => this.report(), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, () => resolve()));
    await new Promise<void>((resolve, reject) => this.socket.connect(this.target.port, this.target.host, (error?: Error) => (error ? reject(error) : resolve())));
    this.report();
  }

  /** One Opus packet (a 10 ms frame) captured at host time `capturedAt`. */
  packet(payload: Buffer, capturedAt: number): void {
    if (this.closed) return;
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    // RFC 7587 §4.1: the marker on the first packet of a talkspurt (here: of the stream)
    const packet = this.protector.protectRtp({ marker: this.first, payloadType: OPUS_PAYLOAD_TYPE, seq, timestamp: rtpClock(capturedAt, OPUS_CLOCK_RATE), ssrc: this.ssrc }, payload);
    this.first = false;
    this.history[seq & (HISTORY - 1)] = { seq, packet };
    this.send(packet);
    this.counters.packetsSent += 1;
  }

  private send(packet: Buffer): void {
    if (this.closed) return;
    this.counters.bytesSent += packet.length;
    this.socket.send(packet);
  }

  private onFeedback(data: Buffer): void {
    if (!isRtcp(data)) return;
    const opened = this.unprotector.unprotectRtcp(data);
    if ('error' in opened) {
      this.counters.feedbackRejected += 1;
      return;
    }
    for (const packet of parseCompound(opened.compound) ?? []) {
      if (packet.type === 'rr' && packet.block) {
        const rtt = rttFromReport(preciseNow(), packet.block.lsr, packet.block.dlsr);
        if (rtt !== null && rtt >= 0 && rtt < 10_000) this.rttMs = nextRttEstimate(this.rttMs, rtt);
      } else if (packet.type === 'nack') {
        this.counters.nacksReceived += 1;
        for (const seq of packet.seqs) this.retransmit(seq);
      }
    }
  }

  private retransmit(seq: number): void {
    const now = Date.now();
    this.tokens = Math.min(RETRANSMIT_PER_SECOND, this.tokens + ((now - this.tokensAt) / 1000) * RETRANSMIT_PER_SECOND);
    this.tokensAt = now;
    const kept = this.history[seq & (HISTORY - 1)];
    if (!kept || kept.seq !== seq || this.tokens < 1) return;
    this.tokens -= 1;
    this.send(kept.packet);
    this.counters.retransmitted += 1;
  }

  /** The sender report: host clock and this stream's RTP clock at the same instant (and the NAT keepalive). */
  private report(): void {
    if (this.closed) return;
    const now = preciseNow();
    this.send(this.protector.protectRtcp(compound([
      buildSenderReport({ ssrc: this.ssrc, ntpMs: now, rtpTimestamp: rtpClock(now, OPUS_CLOCK_RATE), packetCount: this.counters.packetsSent, octetCount: this.counters.bytesSent }),
      // our round trip, so the receiver knows which resends can still come in time
      buildRttApp({ ssrc: this.ssrc, rttUs: Math.round((this.rttMs ?? 0) * 1000) }),
    ])));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.socket.close();
  }
}
