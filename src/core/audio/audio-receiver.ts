import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { preciseNow } from '../pairing/channel';
import { buildNack, buildReceiverReport, compound, ntpMiddle32, parseCompound } from '../rtp/rtcp';
import { isRtcp } from '../rtp/rtp-packet';
import type { RtpKeys } from '../rtp/rtp-keys';
import { SrtpProtector, SrtpUnprotector } from '../rtp/srtp-gcm';
import { OPUS_CLOCK_RATE, OPUS_PAYLOAD_TYPE } from './audio-keys';
import { AudioPlayout, type PlayedFrame } from './audio-playout';
import type { AudioSink } from './audio-sink';
import { PeerStages } from './audio-stages';
import { PlayoutTimer } from './playout-timer';
import { OpusDecoder } from './opus-lib';
import { MIN_JITTER_ROOM_MS, PlayoutDelay } from './playout-delay';
import { SinkFeeder } from './sink-feeder';

/** One second of the audio stream at the peer (sent to the host inside stream.stats). */
export interface AudioSecond {
  /** Opus payload and RTP bytes that arrived, as kbit/s. */
  bitrateKbps: number;
  received: number;
  lost: number;
  recovered: number;
  recoveredFec: number;
  recoveredNack: number;
  concealedMs: number;
  /** Median of (heard at, peer clock) − (captured at, host clock): capture-to-play plus the clocks' offset. */
  delayMs: number | null;
  /** Median of the sound's delay minus the picture's (positive: sound late), when stamped frames show the picture's. */
  avOffsetMs: number | null;
  /** Frames handed to a sink that drops them (a headless peer). */
  dropped: number;
  /**
   * Times the sink ran dry: frames written later than its buffer could cover (this process was not
   * scheduled in time) or the stream stopped coming; each one is an audible gap that concealment did not fill.
   */
  underruns: number;
}

const REPORT_INTERVAL_MS = 500;
/** A frame is written at most about this late (PlayoutTimer): a resend must come this much before its turn. */
const WRITE_SLACK_MS = 2;
const TWO_32 = 2 ** 32;
/** Stamped frames (decode time exactly) are used over RTP timestamps while one came this recently (ms). */
const STAMPS_PREFERRED_MS = 2000;

/**
 * The peer's end of the audio stream: its own UDP socket under the audio key context; every datagram
 * authenticated first; Opus frames played through AudioPlayout at a delay that covers the path's jitter
 * and, when the picture arrives later than the sound, the picture's delay (lip sync); NACKs only for a
 * packet whose repair can come before its turn; RRs back to the host. Events: 'second' (AudioSecond).
 */
export class AudioRtpReceiver extends EventEmitter {
  port = 0;
  lastAuthenticAt: number | null = null;
  private readonly socket: Socket;
  private readonly unprotector: SrtpUnprotector;
  private readonly protector: SrtpProtector;
  private readonly decoder = new OpusDecoder();
  private readonly playout: AudioPlayout;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private remote: RemoteInfo | null = null;
  private mediaSsrc: number | null = null;
  private sr: { ntpMs: number; rtp: number; middle: number; at: number } | null = null;
  private rttMs: number | null = null;
  private readonly delay: PlayoutDelay;
  private lastStampedAt = -Infinity;
  private readonly nacked = new Set<number>();
  private bytes = 0;
  private readonly feeder: SinkFeeder;
  private lastHostMs: number | null = null;
  private delays: number[] = [];
  private avOffsets: number[] = [];
  private base = { received: 0, lost: 0, fec: 0, nack: 0, concealedMs: 0, dropped: 0, underruns: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly clock = new PlayoutTimer(() => this.play());
  private closed = false;
  /** The split of the delay by stage (GPU_BRIDGE_AUDIO_STAGES only), with first arrivals by host ms. */
  private readonly stages = PeerStages.fromEnv();

  constructor(
    private readonly options: { listen: string; port: number; keys: RtpKeys; sink: AudioSink },
  ) {
    super();
    this.unprotector = new SrtpUnprotector(options.keys.media);
    this.protector = new SrtpProtector(options.keys.feedback);
    this.playout = new AudioPlayout(this.decoder, MIN_JITTER_ROOM_MS);
    this.delay = new PlayoutDelay(options.sink);
    this.feeder = new SinkFeeder(options.sink);
    this.socket = createSocket(isIPv6(options.listen) ? 'udp6' : 'udp4');
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data, from) => this.onDatagram(data, from));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.options.port, this.options.listen, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.port = this.socket.address().port;
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(REPORT_INTERVAL_MS, () => this.report());
    every(1000, () => this.emitSecond());
    return this.port;
  }

  get sink(): AudioSink {
    return this.options.sink;
  }

  get counters() {
    return { ...this.playout.counters, underruns: this.feeder.underruns + this.options.sink.underruns };
  }

  /**
   * A decoded frame of the picture: its stamp (host ms mod 2^32) and when it was decoded here. The sound
   * is held back to the picture's delay when the picture is the later of the two.
   */
  videoFrame(stampMs: number, decodedAt: number): void {
    if (this.lastHostMs === null) return;
    const hostMs = stampMs + Math.round((this.lastHostMs - stampMs) / TWO_32) * TWO_32;
    this.delay.videoFrame(decodedAt - hostMs);
    this.lastStampedAt = decodedAt;
  }

  /**
   * A frame of the picture going to the decoder at `at`, with its RTP timestamp: host ms × 90 (the clock the
   * sound's timestamps and sender reports use). Used where the picture has no stamps (a real desktop); it
   * leaves out the host's encode and the peer's decode, a few ms each.
   */
  videoRtpFrame(timestamp: number, at: number): void {
    if (this.lastHostMs === null || at - this.lastStampedAt < STAMPS_PREFERRED_MS) return;
    const raw = timestamp / 90;
    const period = TWO_32 / 90;
    this.delay.videoFrame(at - (raw + Math.round((this.lastHostMs - raw) / period) * period));
  }

  /** How long the picture should wait before its decoder so it shows with its sound (0 where nothing is heard). */
  get videoHoldMs(): number {
    return this.delay.videoHoldMs;
  }


  /** Host ms of an RTP timestamp: through the last sender report, else straight from the shared clock (host ms × 48). */
  private hostMs(timestamp: number, now: number): number {
    const sr = this.sr;
    if (sr) return sr.ntpMs + (((timestamp - sr.rtp) | 0) / OPUS_CLOCK_RATE) * 1000;
    const raw = (timestamp / OPUS_CLOCK_RATE) * 1000;
    const period = (TWO_32 / OPUS_CLOCK_RATE) * 1000;
    return raw + Math.round((now - raw) / period) * period;
  }

  private onDatagram(data: Buffer, from: RemoteInfo): void {
    if (this.closed) return;
    const now = preciseNow();
    if (isRtcp(data)) {
      const opened = this.unprotector.unprotectRtcp(data);
      if ('error' in opened) return;
      this.remote ??= from;
      this.lastAuthenticAt = now;
      for (const packet of parseCompound(opened.compound) ?? []) {
        if (packet.type === 'sr') this.sr = { ntpMs: packet.ntpMs, rtp: packet.rtpTimestamp, middle: ntpMiddle32(packet.ntpMs), at: now };
        else if (packet.type === 'app' && packet.rttUs > 0) this.rttMs = packet.rttUs / 1000;
      }
      if (this.rttMs === null) this.report();
      return;
    }
    const opened = this.unprotector.unprotectRtp(data);
    if ('error' in opened) return;
    const { header, payload } = opened;
    if (header.payloadType !== OPUS_PAYLOAD_TYPE) return;
    this.lastAuthenticAt = now;
    this.remote = from;
    this.mediaSsrc = header.ssrc;
    this.bytes += data.length;
    const hostMs = this.hostMs(header.timestamp, now);
    this.lastHostMs = Math.max(this.lastHostMs ?? hostMs, hostMs);
    const resent = this.nacked.delete(header.seq);
    if (!resent) {
      this.stages?.arrived(hostMs, now);
      this.delay.transit(now - hostMs);
      this.playout.setTargetDelay(this.delay.target!, this.delay.least);
    }
    const missing = this.playout.insert(header.seq, payload, hostMs, now, resent);
    if (missing.length > 0) {
      this.delay.loss();
      this.playout.setTargetDelay(this.delay.target!, this.delay.least);
      this.nack(missing.map((seq) => seq & 0xffff), now);
    }
    // a frame that was waiting for this packet plays now; else the timer is armed for the next turn
    this.play();
  }

  /** Asks again for packets whose resend can still arrive before their turn to play. */
  private nack(seqs: number[], now: number): void {
    const rtt = this.rttMs;
    if (rtt === null || !this.remote || this.mediaSsrc === null) return;
    const worth = seqs.filter((seq) => {
      const deadline = this.playout.deadline(seq);
      return deadline !== null && deadline - now > rtt + WRITE_SLACK_MS;
    });
    if (worth.length === 0) return;
    for (const seq of worth) this.nacked.add(seq);
    if (this.nacked.size > 256) this.nacked.clear();
    this.sendRtcp(compound([buildReceiverReport({ ssrc: this.ssrc }), buildNack({ senderSsrc: this.ssrc, mediaSsrc: this.mediaSsrc, seqs: worth })]));
  }

  private play(): void {
    if (this.closed) return;
    const now = preciseNow();
    const sink = this.options.sink;
    const video = this.delay.shownVideoDelay;
    for (const frame of this.feeder.feed(this.playout.poll(now), now)) {
      this.delay.written(now - frame.hostMs);
      this.account(frame, now + sink.latencyMs, video);
      if (this.stages) this.stage(frame, now);
    }
    this.clock.wakeAt(preciseNow(), this.playout.nextAt(now), this.feeder.halfAt);
  }

  private stage(frame: PlayedFrame, out: number): void {
    this.stages!.written(frame, out, preciseNow(), { sink: this.options.sink, feeder: this.feeder, playout: this.playout, delay: this.delay });
  }

  private account(frame: PlayedFrame, heardAt: number, video: number | null): void {
    if (frame.source === 'concealed' && this.delays.length > 200) return;
    const delay = heardAt - frame.hostMs;
    if (this.delays.length < 200) this.delays.push(delay);
    // against the picture as shown: its own delay plus the hold it was given
    if (video !== null && this.avOffsets.length < 200) this.avOffsets.push(delay - video);
  }

  private report(): void {
    if (this.closed || !this.remote) return;
    const sr = this.sr;
    const block = this.mediaSsrc === null && !sr
      ? undefined
      : { ssrc: this.mediaSsrc ?? 0, fractionLost: 0, cumulativeLost: this.playout.counters.lost, highestSeq: 0, jitter: 0, lsr: sr?.middle ?? 0, dlsr: sr ? Math.round(((preciseNow() - sr.at) / 1000) * 65536) : 0 };
    this.sendRtcp(compound([buildReceiverReport({ ssrc: this.ssrc, block })]));
  }

  private sendRtcp(packet: Buffer): void {
    const remote = this.remote;
    if (!remote || this.closed) return;
    this.socket.send(this.protector.protectRtcp(packet), remote.port, remote.address);
  }

  private emitSecond(): void {
    const c = this.playout.counters;
    const sink = this.options.sink;
    const second: AudioSecond = {
      bitrateKbps: Math.round((this.bytes * 8) / 100) / 10,
      received: c.received - this.base.received,
      lost: c.lost - this.base.lost,
      recoveredFec: c.recoveredFec - this.base.fec,
      recoveredNack: c.recoveredNack - this.base.nack,
      recovered: c.recoveredFec - this.base.fec + c.recoveredNack - this.base.nack,
      concealedMs: c.concealedMs - this.base.concealedMs,
      delayMs: this.delays.length > 0 ? round1(median(this.delays)) : null,
      avOffsetMs: this.avOffsets.length > 0 ? round1(median(this.avOffsets)) : null,
      dropped: Math.round(sink.framesDropped) - this.base.dropped,
      underruns: this.feeder.underruns + sink.underruns + c.pauses - this.base.underruns,
    };
    this.base = { received: c.received, lost: c.lost, fec: c.recoveredFec, nack: c.recoveredNack, concealedMs: c.concealedMs, dropped: Math.round(sink.framesDropped), underruns: this.feeder.underruns + sink.underruns + c.pauses };
    this.bytes = 0;
    this.delays = [];
    this.avOffsets = [];
    this.emit('second', second);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.clock.close();
    this.socket.close();
    this.decoder.close();
    this.stages?.close();
    await this.options.sink.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
