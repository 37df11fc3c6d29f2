import type { StreamTransport } from '../../shared/contract/peers';
import { DEFAULT_TRANSPORT, isTransportName, TRANSPORT_NAMES } from '../../shared/transports';
import type { CaptureKind } from '../../shared/contract/sessions';
import type { OpenedCapture } from '../capture/open-capture';
import { ENCODERS, type EncoderName } from './encoder-args';
import { LocalViewer } from './local-viewer';
import { checkFps, validateSize } from './pipeline';
import { startCpuMeter } from './proc-stat';
import { srtLatencyFromRtt } from '../srt/srt-url';
import { StreamSession, type StreamSecond } from './stream-session';
import { RelayedLink } from './relayed-link';

export interface SelftestOptions {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  encoder: EncoderName;
  fallback?: EncoderName;
  bitrateKbps?: number;
  /** Default rtp. */
  transport?: StreamTransport;
  /** The emulated link between the host and the local peer (a user-space UDP relay): delay each way, ms. */
  oneWayDelayMs?: number;
  /** Random loss each way, percent. */
  lossPercent?: number;
  /** Drop everything both ways for this long (ms), `outageAtS` seconds in. */
  outageMs?: number;
  outageAtS?: number;
  /** Where the picture comes from (default: the stamped test pattern). The caller opens and closes it. */
  capture?: OpenedCapture;
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
  transport: StreamTransport;
  source: CaptureKind;
  framesIntact: number;
  fecRecovered: number;
  nackRecovered: number;
  framesLost: number;
  keyframeRequests: number;
  cleanPictureMs: number | null;
  oneWayDelayMs: number;
  lossPercent: number;
  senderCpuPercent: number | null;
  receiverCpuPercent: number | null;
  ok: boolean;
  reason: string | null;
}

/** A bitrate that looks right for the size and rate: about 0.08 bit per pixel per frame. */
export function defaultBitrateKbps(width: number, height: number, fps: number): number {
  return Math.max(500, Math.min(50_000, Math.round((width * height * fps * 0.08) / 1000)));
}

export function checkSelftestOptions(options: Pick<SelftestOptions, 'width' | 'height' | 'fps' | 'seconds' | 'encoder' | 'transport' | 'oneWayDelayMs' | 'lossPercent'>): void {
  validateSize(options.width, options.height);
  checkFps(options.fps);
  if (!Number.isFinite(options.seconds) || options.seconds < 2 || options.seconds > 600) throw new Error(`--seconds must be 2 to 600, got ${options.seconds}`);
  if (options.transport !== undefined && !isTransportName(options.transport)) throw new Error(`--transport must be ${TRANSPORT_NAMES.join(' or ')}, got ${String(options.transport).slice(0, 20)}`);
  const delay = options.oneWayDelayMs ?? 0;
  if (!Number.isFinite(delay) || delay < 0 || delay > 1000) throw new Error(`--one-way-delay must be 0 to 1000 ms, got ${delay}`);
  const loss = options.lossPercent ?? 0;
  if (!Number.isFinite(loss) || loss < 0 || loss > 50) throw new Error(`--loss must be 0 to 50 percent, got ${loss}`);
  if (!(ENCODERS as readonly string[]).includes(options.encoder)) throw new Error(`unknown encoder ${options.encoder}: one of ${ENCODERS.join(', ')}`);
}

/**
 * The whole real pipeline: the stamped test source, our encoder settings, encrypted RTP (or SRT) to a
 * separate local peer process that decodes and reads every stamp, on loopback or through a user-space
 * link with delay and loss. Latency figures leave out the start-up backlog (reported as startMs).
 */
export async function runSelftest(options: SelftestOptions): Promise<SelftestResult> {
  checkSelftestOptions(options);
  const bitrateKbps = options.bitrateKbps ?? defaultBitrateKbps(options.width, options.height, options.fps);
  const transport = options.transport ?? DEFAULT_TRANSPORT;
  const oneWayDelayMs = options.oneWayDelayMs ?? 0;
  const lossPercent = options.lossPercent ?? 0;
  const viewer = new LocalViewer(options.peerCommand, 'self-test peer');
  await viewer.ready;
  const emulated = oneWayDelayMs > 0 || lossPercent > 0 || options.outageMs !== undefined;
  const relayed = emulated ? new RelayedLink(viewer.link, { oneWayDelayMs, loss: lossPercent / 100 }) : null;
  const session = new StreamSession({
    source: options.capture?.source ?? { kind: 'test', width: options.width, height: options.height },
    feed: options.capture?.feed ?? undefined,
    fps: options.fps,
    bitrateKbps,
    encoder: options.encoder,
    fallback: options.fallback,
    adaptive: false,
    transport,
    srtLatencyMs: emulated ? srtLatencyFromRtt(2 * oneWayDelayMs) : 0,
    ffmpeg: options.ffmpeg,
  });
  if (options.onSecond) session.on('second', options.onSecond);
  if (options.onFallback) session.on('fallback', options.onFallback);
  const ended = new Promise<string>((resolve) => session.once('ended', resolve));
  const outage = options.outageMs === undefined ? null : setTimeout(() => relayed?.outage(options.outageMs!), (options.outageAtS ?? options.seconds / 2) * 1000);
  try {
    await session.addViewer(relayed ?? viewer.link);
    const meter = await startCpuMeter(viewer.pid);
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve('time'), options.seconds * 1000));
    await Promise.race([timer, ended]);
    const cpu = await meter.read();
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
      transport,
      source: options.capture?.kind ?? 'test',
      framesIntact: totals.framesDecoded - totals.unreadable,
      fecRecovered: totals.repairs.fecRecovered,
      nackRecovered: totals.repairs.nackRecovered,
      framesLost: totals.repairs.framesLost,
      keyframeRequests: totals.repairs.keyframeRequests,
      cleanPictureMs: totals.repairs.cleanPictureMsMax,
      oneWayDelayMs,
      lossPercent,
      // this process does little else during the self-test: its CPU is the session's (sender, FEC, crypto)
      senderCpuPercent: cpu.selfPercent,
      receiverCpuPercent: cpu.otherPercent,
      ok: failed === null && totals.framesDecoded > 0,
      reason: failed ?? (totals.framesDecoded === 0 ? 'no frame reached the peer' : null),
    };
    return result;
  } finally {
    if (outage) clearTimeout(outage);
    await session.stop('self-test done');
    relayed?.shutdown();
    await viewer.stop();
  }
}
