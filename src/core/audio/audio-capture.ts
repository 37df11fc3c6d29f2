import { EventEmitter } from 'node:events';
import { preciseNow } from '../pairing/channel';
import { lastLines, spawnTied, type SupervisedSpawn } from '../sessions/child-process';
import { FRAME_BYTES, FRAME_MS, OPUS_CHANNELS, OPUS_RATE } from './opus-lib';

/** One 10 ms frame of the host's sound and when its first sample was captured (host clock, ms). */
export interface CapturedFrame {
  pcm: Buffer;
  capturedAt: number;
  /** When the chunk that completed it was read from parec (ms, host clock). */
  readAt: number;
}

/** What the capture reader asks the sound server to buffer: small, since every ms here is latency. */
const CAPTURE_LATENCY_MS = 5;
/** The capture clock's floor creeps up this much per chunk: the sound card's clock may run slow against ours. */
const FLOOR_CREEP_MS = 0.005;

/**
 * Reads a source (the default output's monitor) through the PulseAudio API (`parec`, raw s16le 48 kHz
 * stereo) and cuts it into 10 ms frames. A frame's capture time comes from a sample clock: samples
 * counted since the start, anchored at the earliest (arrival − samples so far) seen, since a chunk can
 * only arrive late, never early. Events: 'frame' (CapturedFrame), 'ended' (reason).
 */
export class AudioCapture extends EventEmitter {
  private process: SupervisedSpawn | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private samples = 0;
  private anchor: number | null = null;
  private framesOut = 0;
  private stopping = false;

  constructor(private readonly options: { device: string; env?: NodeJS.ProcessEnv; parec?: string }) {
    super();
  }

  start(): void {
    const args = ['--raw', '--format=s16le', `--rate=${OPUS_RATE}`, `--channels=${OPUS_CHANNELS}`, `--latency-msec=${CAPTURE_LATENCY_MS}`, `--device=${this.options.device}`, '--client-name=gpu-bridge', '--stream-name=session audio'];
    const process = spawnTied(this.options.parec ?? 'parec', args, ['ignore', 'pipe', 'pipe'], this.options.env);
    this.process = process;
    let stderr = '';
    process.child.stderr!.setEncoding('utf8');
    process.child.stderr!.on('data', (text: string) => (stderr = (stderr + text).slice(-2000)));
    process.child.stdout!.on('data', (chunk: Buffer) => this.onChunk(chunk, preciseNow()));
    void process.exited.then(({ code, signal, error }) => {
      if (this.stopping) return;
      this.emit('ended', `the audio capture (parec) ended: ${error ?? (signal ? `killed by ${signal}` : `exit code ${code}`)}${stderr ? `: ${lastLines(stderr)}` : ''}`);
    });
  }

  private onChunk(chunk: Buffer, arrivedAt: number): void {
    this.samples += chunk.length / (2 * OPUS_CHANNELS);
    const anchor = arrivedAt - (this.samples / OPUS_RATE) * 1000;
    this.anchor = this.anchor === null ? anchor : Math.min(this.anchor + FLOOR_CREEP_MS, anchor);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= FRAME_BYTES) {
      const pcm = this.pending.subarray(0, FRAME_BYTES);
      this.pending = this.pending.subarray(FRAME_BYTES);
      this.emit('frame', { pcm, capturedAt: this.anchor + this.framesOut * FRAME_MS, readAt: arrivedAt } satisfies CapturedFrame);
      this.framesOut += 1;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.process?.stop(500);
  }
}
