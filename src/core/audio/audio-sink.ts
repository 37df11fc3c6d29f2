import { lastLines, spawnTied, type SupervisedSpawn } from '../sessions/child-process';
import { FRAME_BYTES, FRAME_MS, OPUS_CHANNELS, OPUS_RATE } from './opus-lib';
import { sendQueued, shrinkSendBuffer } from './stdin-queue';
import { probeSoundServer } from './sound-server';
import { PulsePlayback } from './pulse-playback';

/** Where the peer's decoded sound goes. */
export interface AudioSink {
  /** 'pulse' plays to the default output; 'none' counts and drops (a headless peer). */
  readonly kind: 'pulse' | 'none';
  /** Why there is no output (one line), for 'none'. */
  readonly why: string | null;
  /** How long the sink holds a frame before it is heard (ms): the playout writes this much ahead. */
  readonly latencyMs: number;
  framesWritten: number;
  framesDropped: number;
  /** Times the sound server found the sink's buffer empty (an audible gap; pacat reports each one). */
  underruns: number;
  /** Bytes written and not yet taken by the output (waiting in front of it), null where unknown. */
  readonly queuedBytes: number | null;
  write(pcm: Buffer): void;
  close(): Promise<void>;
}

/**
 * What the playback stream asks the server to buffer: room for one scheduling hiccup, not more. Fed in
 * half frames, it is down to 10 ms (the hiccup's room) just before each write, as 20 ms was when whole
 * frames were written.
 */
const PLAYBACK_LATENCY_MS = 15;
/**
 * A write is dropped while Node still holds one for pacat: then the socket pair under it, shrunk to two
 * half frames (SOCKET_BUFFER_BYTES; a default one holds half a second of sound or more unseen), is full too, and pacat
 * has read nothing for 5 ms. The output took less than real time (a server late on a loaded machine, a
 * sound card's clock slower than ours), and what waits in front of it would be heard that much later for
 * good: each drop takes 5 ms off that wait.
 */
const MAX_BACKLOG_BYTES = 0;
/** Asked of the kernel for pacat's stdin (it doubles it): two writes of a half frame, with its bookkeeping. */
const SOCKET_BUFFER_BYTES = 2304;

/**
 * The default output through `pacat`, fed raw s16le 48 kHz stereo: where libpulse cannot be loaded or
 * reached in-process, or with GPU_BRIDGE_AUDIO_SINK=pacat.
 */
class PacatSink implements AudioSink {
  readonly kind = 'pulse' as const;
  readonly why = null;
  /** Its buffer, and the half frame that waits in front of pacat at p50 (bench/latency: one in its socket). */
  readonly latencyMs = PLAYBACK_LATENCY_MS + FRAME_MS / 2;
  framesWritten = 0;
  framesDropped = 0;
  underruns = 0;
  private stderr = '';
  private partial = '';

  constructor(private readonly process: SupervisedSpawn) {
    process.child.stdin!.on('error', () => undefined);
    // where it cannot be shrunk, the wait in front of pacat goes unseen (up to the default buffer's second)
    shrinkSendBuffer(process.child.stdin!, SOCKET_BUFFER_BYTES);
    process.child.stderr!.setEncoding('utf8');
    process.child.stderr!.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-2000);
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop()!.slice(-200);
      for (const line of lines) if (line.includes('Stream underrun')) this.underruns += 1;
    });
  }

  /** Node's backlog and the kernel's count of the socket's unread bytes (with its bookkeeping: an upper bound). */
  get queuedBytes(): number | null {
    const stdin = this.process.child.stdin!;
    const kernel = sendQueued(stdin);
    return kernel === null ? null : stdin.writableLength + kernel;
  }

  get lastWords(): string {
    return lastLines(this.stderr);
  }

  write(pcm: Buffer): void {
    const stdin = this.process.child.stdin!;
    // counted in frames: the receiver writes half frames
    if (stdin.destroyed || stdin.writableLength > MAX_BACKLOG_BYTES) {
      this.framesDropped += pcm.length / FRAME_BYTES;
      return;
    }
    stdin.write(pcm);
    this.framesWritten += pcm.length / FRAME_BYTES;
  }

  async close(): Promise<void> {
    this.process.child.stdin!.end();
    await this.process.stop(500);
  }
}

/**
 * What the libpulse stream holds right after each half frame is written (ms), where it starts and returns
 * to after an underrun raised it (PulsePlayback). bench/latency's sound case, rtp, this 2-core machine: at 12,
 * 0–3 underruns a run as with pacat; at 9, 10–27.
 */
const STREAM_TARGET_MS = 12;
/**
 * From the end of what the stream holds to being heard: the server's graph (its stream, the sink, its
 * monitor), measured, not derived: written → heard p50 18–22 ms at a 12 ms target on PipeWire at a
 * 256-sample quantum (bench/latency's sound case), and the A/V offset's p50 within ±6 ms with it.
 */
const SERVER_PATH_MS = 8;

/**
 * The default output through libpulse itself (PulsePlayback): no pacat in between (a half frame waited in
 * its socket at p50), and a stream locked to the sink's clock, so an underrun costs a gap rather than its
 * length added to everything heard after it.
 */
class PulseApiSink implements AudioSink {
  readonly kind = 'pulse' as const;
  readonly why = null;
  framesWritten = 0;
  framesDropped = 0;

  constructor(private readonly playback: PulsePlayback) {}

  /** Moves with the stream's target (up after an underrun, back down after 3 s without one). */
  get latencyMs(): number {
    return this.playback.targetMs + SERVER_PATH_MS;
  }

  get underruns(): number {
    return this.playback.underruns;
  }

  get queuedBytes(): number | null {
    return this.playback.queuedBytes;
  }

  write(pcm: Buffer): void {
    if (this.playback.write(pcm)) this.framesWritten += pcm.length / FRAME_BYTES;
    else this.framesDropped += pcm.length / FRAME_BYTES;
  }

  close(): Promise<void> {
    return this.playback.close();
  }
}

/** Where libpulse finds the server of `env` (the process's own: its default). */
function serverOf(env: NodeJS.ProcessEnv | undefined): string | null {
  if (!env || env === process.env) return null;
  if (env.PULSE_SERVER) return env.PULSE_SERVER;
  return env.XDG_RUNTIME_DIR ? `unix:${env.XDG_RUNTIME_DIR}/pulse/native` : null;
}

class NullSink implements AudioSink {
  readonly kind = 'none' as const;
  readonly latencyMs = 0;
  readonly queuedBytes = 0;
  framesWritten = 0;
  framesDropped = 0;
  readonly underruns = 0;

  constructor(readonly why: string) {}

  write(): void {
    this.framesDropped += 1;
  }

  async close(): Promise<void> {}
}

/** The default output when a sound server answers, else a sink that counts and drops (with the reason). */
export async function openSink(options: { env?: NodeJS.ProcessEnv; device?: string; pacat?: string } = {}): Promise<AudioSink> {
  // the self-test's peer shares the host's sound server: playing there would loop back into the capture
  if ((options.env ?? process.env).GPU_BRIDGE_AUDIO_OUTPUT === 'none') return new NullSink('this peer plays no sound (GPU_BRIDGE_AUDIO_OUTPUT=none: the self-test\'s peer shares the host\'s output)');
  const probe = await probeSoundServer(options.env);
  if ('unavailable' in probe) return new NullSink(probe.unavailable);
  if ((options.env ?? process.env).GPU_BRIDGE_AUDIO_SINK !== 'pacat' && !options.pacat) {
    try {
      return new PulseApiSink(await PulsePlayback.open({ server: serverOf(options.env), device: options.device, targetMs: STREAM_TARGET_MS }));
    } catch {
      // pacat below, which plays where it can and otherwise says why in its own words (its stderr)
    }
  }
  // -v: pacat reports each underrun of the stream, which is counted
  const args = ['--playback', '-v', '--raw', '--format=s16le', `--rate=${OPUS_RATE}`, `--channels=${OPUS_CHANNELS}`, `--latency-msec=${PLAYBACK_LATENCY_MS}`, '--client-name=gpu-bridge', '--stream-name=session audio'];
  if (options.device) args.push(`--device=${options.device}`);
  return new PacatSink(spawnTied(options.pacat ?? 'pacat', args, ['pipe', 'ignore', 'pipe'], options.env));
}
