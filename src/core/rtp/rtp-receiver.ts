import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { preciseNow } from '../pairing/channel';
import type { RtpVideoCodec } from './depacketize';
import { FrameAssembler, type AssembledFrame, type AssemblerActions } from './frame-assembler';
import { RtcpFeedback } from './rtcp-feedback';
import { ReceiverSeconds, type ReceiverTotals } from './receiver-seconds';
import { isRtcp, readAbsSendTime } from './rtp-packet';
import { FEC_PAYLOAD_TYPE, MEDIA_PAYLOAD_TYPE, type RtpKeys } from './rtp-keys';
import { openRtpTrace } from './rtp-trace';
import { DelayGauge, type LinkGauge } from './delay-gauge';
import { SeqExtender } from './seq';
import { SrtpProtector, SrtpUnprotector } from './srtp-gcm';
import { UdpBatchReceiver } from './udp-batch';
import { afterBurst } from './burst';

export interface RtpReceiverOptions {
  /** Address to bind (an IP). */
  listen: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  keys: RtpKeys;
  codec: RtpVideoCodec;
}

/** One second of the transport's figures at the receiver (sent to the host as stream.stats): the totals' share of it, and these. */
export interface RtpSecond extends LinkGauge, ReceiverTotals {
  /** The longest end-of-loss-burst → clean-picture time that finished this second (ms), or null. */
  cleanPictureMs: number | null;
  rttMs: number | null;
}

const REPORT_INTERVAL_MS = 500;

/**
 * The peer's end of the rtp transport: one UDP socket; every datagram authenticated and decrypted
 * (AES-256-GCM, replay window) before anything reads it; frames assembled with FEC and NACK by the
 * FrameAssembler; feedback (RR, NACK, PLI) encrypted back to the address the host's authenticated
 * packets come from (a host behind NAT needs no open port). Events: 'frame' (AssembledFrame),
 * 'second' (RtpSecond).
 */
export class RtpReceiver extends EventEmitter {
  port = 0;
  /** When the last authenticated datagram came (ms), null before the first. */
  lastAuthenticAt: number | null = null;
  private readonly socket: Socket;
  private readonly unprotector: SrtpUnprotector;
  private readonly assembler: FrameAssembler;
  private readonly feedback: RtcpFeedback;
  private readonly seqs = new SeqExtender();
  private remote: RemoteInfo | null = null;
  private mediaSsrc: number | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt: number | null = null;
  private wantWakeAt: number | null = null;
  private settling = false;
  private readonly nacked = new Set<number>();
  private firstSeq: number | null = null;
  private originals = 0;
  private rejected = 0;
  private readonly seconds = new ReceiverSeconds();
  /** Clean-picture times already reported. */
  private cleansSeen = 0;
  private readonly reportTimer: NodeJS.Timeout;
  private readonly secondTimer: NodeJS.Timeout;
  private closed = false;
  private readonly trace = openRtpTrace('receiver');
  private readonly gauge = new DelayGauge();

  constructor(private readonly options: RtpReceiverOptions) {
    super();
    this.unprotector = new SrtpUnprotector(options.keys.media);
    this.feedback = new RtcpFeedback(
      new SrtpProtector(options.keys.feedback),
      () => ({ highest: this.seqs.max, expected: this.expectedPackets(), originals: this.originals, mediaSsrc: this.mediaSsrc }),
      (packet) => this.sendRtcp(packet),
    );
    this.assembler = new FrameAssembler({ codec: options.codec, rttMs: () => this.feedback.rttMs, trace: this.trace ?? undefined });
    this.socket = createSocket(isIPv6(options.listen) ? 'udp6' : 'udp4');
    this.socket.on('error', () => undefined);
    // a burst's datagrams after the first in recvmmsg calls, not one Node callback each
    new UdpBatchReceiver(this.socket, (data, from) => this.onDatagram(data, from));
    this.reportTimer = setInterval(() => this.remote && this.feedback.report(), REPORT_INTERVAL_MS);
    this.reportTimer.unref();
    this.secondTimer = setInterval(() => this.emitSecond(), 1000);
    this.secondTimer.unref();
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.options.port, this.options.listen, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.socket.setRecvBufferSize(8 << 20);
    this.socket.setSendBufferSize(1 << 20);
    this.port = this.socket.address().port;
    return this.port;
  }

  /** The round trip the host measured and sent us (ms), null before its first measurement. */
  get rttMs(): number | null {
    return this.feedback.rttMs;
  }

  get counters() {
    return { ...this.assembler.counters, rejected: this.rejected, originals: this.originals };
  }

  private onDatagram(data: Buffer, from: RemoteInfo): void {
    if (this.closed) return;
    const now = preciseNow();
    if (isRtcp(data)) {
      const opened = this.unprotector.unprotectRtcp(data);
      if ('error' in opened) {
        this.rejected += 1;
        return;
      }
      this.remote ??= from;
      this.lastAuthenticAt = now;
      this.feedback.heard(opened.compound);
      return;
    }
    // the datagram is ours alone: decrypted where it lies, no copy
    const opened = this.unprotector.unprotectRtp(data, { inPlace: true });
    if ('error' in opened) {
      this.rejected += 1;
      return;
    }
    this.lastAuthenticAt = now;
    const { header, payload } = opened;
    // the host's NAT mapping: answer to where its newest authenticated packets come from (a copy of an
    // older one, sent first by someone on the path, does not move it)
    const placed = this.seqs.peek(header.seq);
    const newestMedia = header.payloadType !== FEC_PAYLOAD_TYPE && (placed === null || placed > this.seqs.max!);
    if (this.remote === null || newestMedia) this.remote = from;
    if (header.payloadType === FEC_PAYLOAD_TYPE) {
      this.gauge.fec(data.length);
      this.act(this.assembler.fec({ timestamp: header.timestamp, payload }, now));
      return;
    }
    if (header.payloadType !== MEDIA_PAYLOAD_TYPE[this.options.codec]) return;
    this.mediaSsrc = header.ssrc;
    const ext = this.seqs.extend(header.seq);
    this.firstSeq ??= ext;
    if (this.nacked.has(ext)) {
      this.nacked.delete(ext);
      this.gauge.fec(data.length);
    } else {
      this.originals += 1;
      this.gauge.packet(header.timestamp, data.length, now, readAbsSendTime(data));
    }
    this.act(this.assembler.media({ seq: header.seq, timestamp: header.timestamp, marker: header.marker, payload }, now));
  }

  private act(actions: AssemblerActions): void {
    for (const frame of actions.frames) this.emit('frame', frame satisfies AssembledFrame);
    if (actions.nack.length > 0 || actions.pli) this.sendFeedback(actions);
    this.settleWake(actions.wakeAt);
  }

  /**
   * The assembler's latest answer on when to look again counts, once the datagrams that came together
   * are read (at the burst's end, see burst.ts): a frame's packets come in one burst, and its first ones
   * ask for a look a few ms on that its last makes needless. A timer armed for each frame (and cleared,
   * which in Node still wakes the process when it was due) cost a wakeup a frame.
   */
  private settleWake(at: number | null): void {
    this.wantWakeAt = at;
    if (this.settling) return;
    this.settling = true;
    afterBurst(this.settleTask);
  }

  private readonly settleTask = (): void => {
    this.settling = false;
    if (this.wantWakeAt !== null && !this.closed) this.wake(this.wantWakeAt);
  };

  private wake(at: number): void {
    if (this.wakeAt !== null && this.wakeAt <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    const timer = setTimeout(() => {
      // how late this look is: the time this process was not running, which the frames' budgets do not count
      const lateMs = preciseNow() - at;
      // after a stall, timers run before the datagrams that came meanwhile are read: decide once they are
      // (setImmediate runs after this turn's I/O), or a frame whose packets sit in the socket is given up
      setImmediate(() => {
        if (this.wakeTimer !== timer) return; // superseded by an earlier wake meanwhile
        this.wakeTimer = null;
        this.wakeAt = null;
        if (this.closed) return;
        this.assembler.stalled(lateMs);
        this.act(this.assembler.poll(preciseNow()));
      });
    }, Math.max(0, at - preciseNow()));
    this.wakeTimer = timer;
  }

  private sendFeedback(actions: AssemblerActions): void {
    if (!this.remote || this.mediaSsrc === null) return;
    for (const seq of actions.nack) {
      const ext = this.seqs.peek(seq);
      if (ext !== null) this.nacked.add(ext);
    }
    if (this.nacked.size > 8192) this.nacked.clear();
    this.feedback.feedback(actions.nack, actions.pli);
  }

  /** Media packets the sender has sent so far, from the first sequence number seen to the highest (RFC 3550 A.3). */
  private expectedPackets(): number {
    const highest = this.seqs.max;
    return highest === null || this.firstSeq === null ? 0 : highest - this.firstSeq + 1;
  }

  /** A sealed SRTCP packet to the host. */
  private sendRtcp(sealed: Buffer): void {
    const remote = this.remote;
    if (!remote || this.closed) return;
    this.socket.send(sealed, remote.port, remote.address);
  }

  private emitSecond(): void {
    const c = this.assembler.counters;
    const cleans = c.cleanPictureMs.slice(this.cleansSeen);
    const second: RtpSecond = {
      ...this.seconds.next({
        received: this.originals, lost: Math.max(0, this.expectedPackets() - this.originals), fecRecovered: c.fecRecovered, nackRecovered: c.nackRecovered,
        framesLost: c.framesLost, framesSkipped: c.framesSkipped, keyframeRequests: c.keyframeRequests, nacksSent: c.nacksSent, rejected: this.rejected,
      }),
      cleanPictureMs: cleans.length > 0 ? Math.round(Math.max(...cleans)) : null,
      rttMs: this.feedback.rttMs,
      ...this.gauge.second(),
    };
    if (c.cleanPictureMs.length > 1000) c.cleanPictureMs.splice(0, c.cleanPictureMs.length - 100);
    this.cleansSeen = c.cleanPictureMs.length;
    this.emit('second', second);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reportTimer);
    clearInterval(this.secondTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.trace?.close();
    this.socket.close();
  }
}
