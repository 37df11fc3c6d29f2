import { EventEmitter } from 'node:events';
import { buildReceiverArgs } from './pipeline';
import { spawnTied, type SupervisedSpawn } from './child-process';
import { readStamps, type DecodedFrame } from './stamp-reader';
import { waitUdpBound } from './udp-bound';
import { freeUdpPort } from '../net/free-udp-port';
import { loadSrt, NativeSrtListener } from './srt-native';
import { isIPv4 } from 'node:net';
import type { Writable } from 'node:stream';
import { preciseNow } from '../pairing/channel';
import { TsWriter } from '../rtp/mpegts-writer';
import type { RtpKeys } from '../rtp/rtp-keys';
import { RtpReceiver, type RtpSecond } from '../rtp/rtp-receiver';
import type { AssembledFrame } from '../rtp/frame-assembler';
import type { LinkStats } from './viewer-link';

export interface ReceiverOptions {
  /** Address to listen on (an IP). */
  listen: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  /** Default srt. */
  transport?: 'srt' | 'rtp';
  /** srt only. */
  passphrase?: string;
  /** rtp only: the session's masters (from the control channel) and the codec. */
  rtp?: { keys: RtpKeys; codec: 'h264' | 'hevc' };
  latencyMs: number;
  display: boolean;
  title?: string;
  listenTimeoutMs?: number;
  /** Height of the picture without the stamp strip (for display). */
  viewHeight?: number;
  ffmpeg?: string;
  /** rtp: a decoder started ahead (`startDecoder`), so ffmpeg's start-up is not part of the session's. */
  decoder?: SupervisedSpawn;
}

/** A headless decoder reading MPEG-TS on stdin, started before it is needed (the peer keeps one warm). */
export function startDecoder(ffmpeg = 'ffmpeg'): SupervisedSpawn {
  return spawnTied(ffmpeg, buildReceiverArgs({ display: false, input: 'pipe' }), ['pipe', 'pipe', 'pipe']);
}

/** rtp has no hang-up: a host silent this long (no authenticated packet) has gone. */
const RTP_SILENCE_MS = 10_000;
/** Decoder input queued beyond this (a stuck decoder) is dropped rather than held. */
const MAX_DECODER_BACKLOG = 32 << 20;

/**
 * The peer's receiving end of one session: an SRT listener (or our rtp receiver) that decodes and reads
 * every frame's stamp. Events: 'frame' (DecodedFrame), 'exit' ({code, reason}), 'link-stats' (LinkStats
 * per second, with our own SRT listener or rtp receiver). The stream ends when the host hangs up (srt),
 * stops sending (rtp), or `stop` is called.
 */
export class Receiver extends EventEmitter {
  private process: SupervisedSpawn | null = null;
  private stderrTail = '';
  private listener: NativeSrtListener | null = null;
  private rtp: RtpReceiver | null = null;
  /** Why our own listener ended its stream (the caller left, no caller came). */
  private endReason: string | null = null;
  port = 0;

  constructor(private readonly options: ReceiverOptions) {
    super();
  }

  async start(): Promise<number> {
    if (this.options.transport === 'rtp') return this.startRtp();
    if (!this.options.passphrase) throw new Error('an SRT receiver needs the stream passphrase');
    this.port = this.options.port || (await freeUdpPort(this.options.listen));
    // our own SRT listener (libsrt through koffi) where it loads: the same stream, plus SRT's statistics
    const srt = isIPv4(this.options.listen) ? loadSrt() : null;
    const args = buildReceiverArgs({
      listen: { host: this.options.listen, port: this.port, passphrase: this.options.passphrase, latencyMs: this.options.latencyMs },
      display: this.options.display,
      title: this.options.title,
      listenTimeoutMs: this.options.listenTimeoutMs,
      viewHeight: this.options.viewHeight,
      input: srt ? 'pipe' : 'srt',
    });
    if (srt) {
      const listener = new NativeSrtListener(srt, {
        host: this.options.listen, port: this.port, passphrase: this.options.passphrase!, latencyMs: this.options.latencyMs,
        listenTimeoutMs: this.options.listenTimeoutMs ?? 10_000,
      });
      listener.start();
      this.listener = listener;
    }
    const process = this.spawnDecoder(args, Boolean(srt), (stdin) => (this.listener ? this.feed(this.listener, stdin) : () => undefined));
    if (this.listener) return this.port;
    // ffmpeg's listener: the host may call as soon as we answer, so answer once it is really there
    const alive = () => process.child.exitCode === null && process.child.signalCode === null;
    if (!(await waitUdpBound(this.port, 5000, alive))) {
      await process.stop(500);
      throw new Error(`the SRT listener did not start: ${lastLine(this.stderrTail)}`);
    }
    return this.port;
  }

  /** The decoder: stamps read from its stdout, its last words kept, 'exit' with the reason the stream ended. */
  private spawnDecoder(args: string[], withStdin: boolean, feed: (stdin: Writable) => () => void, started?: SupervisedSpawn): SupervisedSpawn {
    const process = started ?? spawnTied(this.options.ffmpeg ?? 'ffmpeg', args, [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe']);
    this.process = process;
    readStamps(process.child.stdout!, (frame: DecodedFrame) => this.emit('frame', frame));
    process.child.stderr!.setEncoding('utf8');
    process.child.stderr!.on('data', (text: string) => (this.stderrTail = (this.stderrTail + text).slice(-2000)));
    const stopFeeding = withStdin ? feed(process.child.stdin!) : () => undefined;
    void process.exited.then(({ code, signal, error }) => {
      stopFeeding();
      const ended = this.endReason ? `stream ended: ${this.endReason}` : 'stream ended';
      const reason = error ?? (signal ? `receiver stopped by ${signal}` : this.endReason || code === 0 ? ended : `receiver exited with code ${code}: ${lastLine(this.stderrTail)}`);
      this.emit('exit', { code, reason });
    });
    return process;
  }

  /**
   * rtp: our own receiver (decrypt, FEC, NACK, keyframe on loss) hands whole frames to the decoder as
   * MPEG-TS on its stdin, each one as soon as it is complete.
   */
  private async startRtp(): Promise<number> {
    const settings = this.options.rtp;
    if (!settings) throw new Error('an rtp receiver needs the session keys');
    const rtp = new RtpReceiver({ listen: this.options.listen, port: this.options.port, keys: settings.keys, codec: settings.codec });
    this.port = await rtp.start();
    this.rtp = rtp;
    const args = buildReceiverArgs({ display: this.options.display, title: this.options.title, viewHeight: this.options.viewHeight, input: 'pipe' });
    this.spawnDecoder(args, true, (stdin) => this.feedRtp(rtp, stdin, settings.codec), this.options.decoder);
    return this.port;
  }

  private feedRtp(rtp: RtpReceiver, stdin: Writable, codec: 'h264' | 'hevc'): () => void {
    stdin.on('error', () => undefined);
    const ts = new TsWriter(codec);
    const startedAt = preciseNow();
    rtp.on('frame', (frame: AssembledFrame) => {
      if (stdin.writableLength > MAX_DECODER_BACKLOG) return;
      stdin.write(ts.write(frame.data, frame.firstArrival - startedAt, frame.keyframe));
    });
    rtp.on('second', (second: RtpSecond) => {
      const stats: LinkStats = {
        received: second.received, lost: second.lost, dropped: second.framesLost, fecRecovered: second.fecRecovered, nackRecovered: second.nackRecovered,
        framesLost: second.framesLost, framesSkipped: second.framesSkipped, keyframeRequests: second.keyframeRequests, cleanPictureMs: second.cleanPictureMs,
        rejected: second.rejected, rttMs: second.rttMs === null ? null : Math.round(second.rttMs * 10) / 10,
        queueDelayMs: second.queueDelayMs, receivedKbps: second.receivedKbps, trainKbps: second.trainKbps,
      };
      this.emit('link-stats', stats);
      const now = preciseNow();
      const last = rtp.lastAuthenticAt;
      const limit = last === null ? (this.options.listenTimeoutMs ?? 10_000) : RTP_SILENCE_MS;
      if (now - (last ?? startedAt) > limit) {
        this.endReason = last === null ? 'no host sent to this receiver' : `the host went silent for ${Math.round(limit / 1000)} s`;
        stdin.end();
      }
    });
    return () => rtp.close();
  }

  /**
   * Pipes our listener's stream into ffmpeg's stdin and emits SRT's counters each second ('link-stats':
   * packets received, lost before repair, dropped). Returns the function that stops it.
   */
  private feed(listener: NativeSrtListener, stdin: Writable): () => void {
    stdin.on('error', () => undefined);
    listener.on('data', (chunk: Buffer) => stdin.write(chunk));
    listener.on('end', (reason: string) => {
      this.endReason = reason;
      stdin.end();
    });
    let last = { received: 0, lost: 0, dropped: 0 };
    const stats = setInterval(() => {
      const now = listener.counters();
      if (!now) return;
      this.emit('link-stats', { received: now.received - last.received, lost: now.lost - last.lost, dropped: now.dropped - last.dropped } satisfies LinkStats);
      last = now;
    }, 1000);
    stats.unref();
    return () => {
      clearInterval(stats);
      listener.close();
    };
  }

  async stop(): Promise<void> {
    this.listener?.close();
    this.rtp?.close();
    await this.process?.stop(1000);
  }

  get pid(): number | undefined {
    return this.process?.child.pid;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1)?.slice(0, 300) ?? '(no message)';
}
