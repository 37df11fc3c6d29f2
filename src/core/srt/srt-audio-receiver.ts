import { EventEmitter } from 'node:events';
import { preciseNow } from '../pairing/channel';
import type { AudioSecond } from '../audio/audio-receiver';
import { AudioPlayout, type PlayedFrame } from '../audio/audio-playout';
import type { AudioSink } from '../audio/audio-sink';
import { PeerStages } from '../audio/audio-stages';
import { FRAME_MS, OpusDecoder } from '../audio/opus-lib';
import { MIN_JITTER_ROOM_MS, PlayoutDelay } from '../audio/playout-delay';
import { PlayoutTimer } from '../audio/playout-timer';
import { SinkFeeder } from '../audio/sink-feeder';

const TWO_32 = 2 ** 32;
const PTS_PERIOD_MS = 2 ** 33 / 90;
/** Stamped frames (decode time exactly) are used over the TS timestamps while one came this recently (ms). */
const STAMPS_PREFERRED_MS = 2000;

/**
 * The peer's sound from an srt stream: the Opus packets the input demuxed from the MPEG-TS (ts-opus.ts),
 * their PTS on the host's wall clock (the picture's clock too), played through the same jitter buffer,
 * lip sync and sink as rtp's (src/core/audio). SRT repairs loss itself (ARQ inside its latency) and
 * gives up on what it cannot: a PTS that skips a frame is a lost packet here, rebuilt from the next one's
 * in-band FEC or concealed; there is no NACK of our own. Events: 'second' (AudioSecond).
 */
export class SrtAudioReceiver extends EventEmitter {
  private readonly decoder = new OpusDecoder();
  private readonly playout = new AudioPlayout(this.decoder, MIN_JITTER_ROOM_MS);
  private readonly delay: PlayoutDelay;
  private seq: number | null = null;
  private lastHostMs: number | null = null;
  private lastStampedAt = -Infinity;
  private bytes = 0;
  private readonly feeder: SinkFeeder;
  private delays: number[] = [];
  private avOffsets: number[] = [];
  private base = { received: 0, lost: 0, fec: 0, concealedMs: 0, dropped: 0, underruns: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly clock = new PlayoutTimer(() => this.play());
  /** The split of the delay by stage (GPU_BRIDGE_AUDIO_STAGES only: bench/latency). */
  private readonly stages = PeerStages.fromEnv();
  private closed = false;

  constructor(readonly sink: AudioSink) {
    super();
    this.delay = new PlayoutDelay(sink);
    this.feeder = new SinkFeeder(sink);
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(1000, () => this.emitSecond());
  }

  /** Host ms of a 90 kHz PTS (modulo 2^33, about 26.5 hours): the period nearest our own clock. */
  private hostMs(pts: number, now: number): number {
    const raw = pts / 90;
    return raw + Math.round((now - raw) / PTS_PERIOD_MS) * PTS_PERIOD_MS;
  }

  /** One Opus packet out of the TS, with its PTS and the TS packets' bytes it took. */
  packet(payload: Buffer, pts: number, tsBytes: number): void {
    if (this.closed) return;
    const now = preciseNow();
    const hostMs = this.hostMs(pts, now);
    this.bytes += tsBytes;
    // each packet is one 10 ms frame: the frames between two PTS are the ones SRT did not deliver
    const step = this.lastHostMs === null ? 1 : Math.round((hostMs - this.lastHostMs) / FRAME_MS);
    if (step <= 0) return;
    this.seq = this.seq === null ? 0 : this.seq + Math.min(step, 100);
    this.lastHostMs = hostMs;
    this.stages?.arrived(hostMs, now);
    this.delay.transit(now - hostMs);
    this.playout.setTargetDelay(this.delay.target!, this.delay.least);
    const missing = this.playout.insert(this.seq & 0xffff, payload, hostMs, now, false);
    if (missing.length > 0) {
      this.delay.loss();
      this.playout.setTargetDelay(this.delay.target!, this.delay.least);
    }
    // a frame that was waiting for this packet plays now; else the timer is armed for the next turn
    this.play();
  }

  /** A decoded frame of the picture: its stamp (host ms mod 2^32) and when it was decoded here. */
  videoFrame(stampMs: number, decodedAt: number): void {
    if (this.lastHostMs === null) return;
    const hostMs = stampMs + Math.round((this.lastHostMs - stampMs) / TWO_32) * TWO_32;
    this.delay.videoFrame(decodedAt - hostMs);
    this.lastStampedAt = decodedAt;
  }

  /**
   * A frame of the picture going to the decoder at `at`, its PTS modulo 2^32 (host ms × 90, as rtp's
   * timestamps): used where the picture has no stamps.
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

  private play(): void {
    if (this.closed) return;
    const now = preciseNow();
    const video = this.delay.shownVideoDelay;
    for (const frame of this.feeder.feed(this.playout.poll(now), now)) {
      this.delay.written(now - frame.hostMs);
      this.account(frame, now + this.sink.latencyMs, video);
      this.stages?.written(frame, now, preciseNow(), { sink: this.sink, feeder: this.feeder, playout: this.playout, delay: this.delay });
    }
    this.clock.wakeAt(preciseNow(), this.playout.nextAt(now), this.feeder.halfAt);
  }

  private account(frame: PlayedFrame, heardAt: number, video: number | null): void {
    if (frame.source === 'concealed' && this.delays.length > 200) return;
    const delay = heardAt - frame.hostMs;
    if (this.delays.length < 200) this.delays.push(delay);
    if (video !== null && this.avOffsets.length < 200) this.avOffsets.push(delay - video);
  }

  private emitSecond(): void {
    const c = this.playout.counters;
    const sink = this.sink;
    const pauses = this.feeder.underruns + sink.underruns + c.pauses;
    const second: AudioSecond = {
      bitrateKbps: Math.round((this.bytes * 8) / 100) / 10,
      received: c.received - this.base.received,
      lost: c.lost - this.base.lost,
      recoveredFec: c.recoveredFec - this.base.fec,
      recoveredNack: 0,
      recovered: c.recoveredFec - this.base.fec,
      concealedMs: c.concealedMs - this.base.concealedMs,
      delayMs: this.delays.length > 0 ? round1(median(this.delays)) : null,
      avOffsetMs: this.avOffsets.length > 0 ? round1(median(this.avOffsets)) : null,
      dropped: Math.round(sink.framesDropped) - this.base.dropped,
      underruns: pauses - this.base.underruns,
    };
    this.base = { received: c.received, lost: c.lost, fec: c.recoveredFec, concealedMs: c.concealedMs, dropped: Math.round(sink.framesDropped), underruns: pauses };
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
    this.stages?.close();
    this.decoder.close();
    await this.sink.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
