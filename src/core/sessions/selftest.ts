import { ENCODERS, type EncoderName } from './encoder-args';
import { LocalViewer } from './local-viewer';
import { checkFps, validateSize } from './pipeline';
import { StreamSession, type StreamSecond } from './stream-session';

export interface SelftestOptions {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  encoder: EncoderName;
  fallback?: EncoderName;
  bitrateKbps?: number;
  /** How to start the local peer process (`gpu-bridge peer receive --headless`). */
  peerCommand: { file: string; args: string[]; env?: NodeJS.ProcessEnv };
  onSecond?: (second: StreamSecond) => void;
  onFallback?: (reason: string) => void;
  ffmpeg?: string;
}

export interface SelftestResult {
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  fpsReceived: number;
  framesSent: number;
  framesDecoded: number;
  unreadableFrames: number;
  encoder: EncoderName;
  fallbackReason: string | null;
  /** Encoder process CPU, percent of one core. */
  cpuPercent: number | null;
  /** Command to first decoded frame at the peer. */
  startMs: number | null;
  size: string;
  fps: number;
  seconds: number;
  bitrateKbps: number;
  restarts: number;
  ok: boolean;
  reason: string | null;
}

/** A bitrate that looks right for the size and rate: about 0.08 bit per pixel per frame. */
export function defaultBitrateKbps(width: number, height: number, fps: number): number {
  return Math.max(500, Math.min(50_000, Math.round((width * height * fps * 0.08) / 1000)));
}

export function checkSelftestOptions(options: Pick<SelftestOptions, 'width' | 'height' | 'fps' | 'seconds' | 'encoder'>): void {
  validateSize(options.width, options.height);
  checkFps(options.fps);
  if (!Number.isFinite(options.seconds) || options.seconds < 2 || options.seconds > 600) throw new Error(`--seconds must be 2 to 600, got ${options.seconds}`);
  if (!(ENCODERS as readonly string[]).includes(options.encoder)) throw new Error(`unknown encoder ${options.encoder}: one of ${ENCODERS.join(', ')}`);
}

/**
 * The whole real pipeline on loopback: the stamped test source, our encoder settings, MPEG-TS over
 * encrypted SRT to a separate local peer process that decodes and reads every stamp. Latency figures
 * leave out the first second (start-up, reported as startMs).
 */
export async function runSelftest(options: SelftestOptions): Promise<SelftestResult> {
  checkSelftestOptions(options);
  const bitrateKbps = options.bitrateKbps ?? defaultBitrateKbps(options.width, options.height, options.fps);
  const viewer = new LocalViewer(options.peerCommand, 'self-test peer');
  await viewer.ready;
  const session = new StreamSession({
    source: { kind: 'test', width: options.width, height: options.height },
    fps: options.fps,
    bitrateKbps,
    encoder: options.encoder,
    fallback: options.fallback,
    adaptive: false,
    srtLatencyMs: 0,
    ffmpeg: options.ffmpeg,
  });
  if (options.onSecond) session.on('second', options.onSecond);
  if (options.onFallback) session.on('fallback', options.onFallback);
  const ended = new Promise<string>((resolve) => session.once('ended', resolve));
  try {
    await session.addViewer(viewer.link);
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve('time'), options.seconds * 1000));
    await Promise.race([timer, ended]);
    const failed = session.state === 'failed' ? session.reason : null;
    // stop first: the encoder's last progress block (its final frame count) arrives as it exits
    await session.stop('self-test done');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const totals = session.totals();
    const result: SelftestResult = {
      p50Ms: totals.latency.p50Ms,
      p95Ms: totals.latency.p95Ms,
      p99Ms: totals.latency.p99Ms,
      fpsReceived: totals.fpsReceived,
      framesSent: session.framesSent,
      framesDecoded: totals.framesDecoded,
      unreadableFrames: totals.unreadable,
      encoder: session.encoder,
      fallbackReason: session.fallbackReason,
      cpuPercent: totals.cpuPercent,
      startMs: session.firstFrameMs,
      size: `${options.width}x${options.height}`,
      fps: options.fps,
      seconds: options.seconds,
      bitrateKbps,
      restarts: session.restarts,
      ok: failed === null && totals.framesDecoded > 0,
      reason: failed ?? (totals.framesDecoded === 0 ? 'no frame reached the peer' : null),
    };
    return result;
  } finally {
    await session.stop('self-test done');
    await viewer.stop();
  }
}
