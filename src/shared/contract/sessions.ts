import { z } from 'zod';
import { event, method } from './define';
import { StreamCodec, StreamTransport } from './peers';
import { DEFAULT_TRANSPORT, type StreamCodecName } from '../transports';

export const EncoderName = z.enum(['h264_nvenc', 'hevc_nvenc', 'av1_nvenc', 'libx264', 'libx265']);

/** The codec each encoder makes (a session is listed by its encoder). */
export const ENCODER_CODEC: Record<z.infer<typeof EncoderName>, StreamCodecName> = {
  h264_nvenc: 'h264',
  hevc_nvenc: 'hevc',
  av1_nvenc: 'av1',
  libx264: 'h264',
  libx265: 'hevc',
};

export const CaptureKind = z.enum(['x11', 'portal', 'gnome', 'wlroots', 'test']);
export type CaptureKind = z.infer<typeof CaptureKind>;

export const SessionSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('x11'), display: z.string().regex(/^[A-Za-z0-9._-]*:\d{1,4}(\.\d{1,2})?$/, 'an X display like :0'), x: z.number().int().min(0).max(16384).default(0), y: z.number().int().min(0).max(16384).default(0) }).strict(),
  z.object({ kind: z.literal('portal') }).strict().describe('the xdg-desktop-portal screen share (any Wayland desktop); the owner approves once'),
  z.object({ kind: z.literal('gnome') }).strict().describe('GNOME\'s own screen cast, unattended (opt-in: shares without asking)'),
  z.object({ kind: z.literal('wlroots'), output: z.string().regex(/^[\w.-]{1,64}$/, 'an output name like HEADLESS-1 or DP-1').optional() }).strict(),
  z.object({ kind: z.literal('test') }).strict(),
]);
export type SessionSource = z.infer<typeof SessionSource>;

export const CaptureSourceStatus = z.object({
  kind: CaptureKind,
  available: z.boolean(),
  detail: z.string().describe('what it is here, or why it does not work'),
  action: z.string().nullable().describe('what to do about it'),
});
export type CaptureSourceStatus = z.infer<typeof CaptureSourceStatus>;

export const CaptureSourcesInfo = z.object({
  sessionType: z.enum(['wayland', 'x11', 'none']),
  desktop: z.string().nullable(),
  defaultSource: CaptureKind.nullable().describe('what a session captures when it names no source'),
  sources: z.array(CaptureSourceStatus),
  /** A recorded host (serve --from): whose snapshot, whose desktop session it did not record. */
  recordedHost: z.string().nullable().optional(),
});
export type CaptureSourcesInfo = z.infer<typeof CaptureSourcesInfo>;

export const CaptureSettings = z.object({
  unattendedGnome: z.boolean().describe('GNOME may share the screen with no dialog (Mutter\'s own API)'),
});
export type CaptureSettings = z.infer<typeof CaptureSettings>;

/** One second of one viewer's stream: what the Sessions page charts. */
export const SessionSecond = z.object({
  sessionId: z.string(),
  t: z.number(),
  viewer: z.string(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  fpsSent: z.number(),
  fpsReceived: z.number(),
  bitrateKbps: z.number().nullable(),
  targetKbps: z.number(),
  rttMs: z.number().nullable(),
  dropped: z.number(),
  duplicated: z.number(),
  unreadable: z.number(),
  /** The rtp transport's repairs and recoveries this second (null over srt, or before the viewer's first report). */
  packetsLost: z.number().nullable().describe('media packets lost on the way, before any repair'),
  fecRecovered: z.number().nullable(),
  nackRecovered: z.number().nullable(),
  framesLost: z.number().nullable().describe('frames that could not be repaired in time (not shown)'),
  keyframeRequests: z.number().nullable(),
  cleanPictureMs: z.number().nullable().describe('end of a loss burst to the next clean picture'),
  queueDelayMs: z.number().nullable().optional().describe('how much later than the link\'s fastest the frames arrived (median, ms): a queue filling on the path'),
  /** The sound this second (all null when the session carries none, or before the viewer's first report). */
  audioKbps: z.number().nullable().optional(),
  audioPacketsLost: z.number().nullable().optional().describe('Opus packets missing at their turn, before repair'),
  audioPacketsRecovered: z.number().nullable().optional().describe('rebuilt from the next packet\'s FEC or resent in time'),
  audioConcealedMs: z.number().nullable().optional().describe('sound the decoder made up for what was lost'),
  audioLatencyMs: z.number().nullable().optional().describe('captured on the host to heard at the peer'),
  avOffsetMs: z.number().nullable().optional().describe('the sound\'s delay minus the picture\'s (positive: sound late)'),
});
export type SessionSecond = z.infer<typeof SessionSecond>;

export const SessionInfo = z.object({
  id: z.string(),
  viewers: z.array(z.string()),
  state: z.enum(['starting', 'running', 'restarting', 'failed', 'stopped']),
  reason: z.string().nullable(),
  encoder: EncoderName,
  transport: StreamTransport,
  encoderReason: z.string().describe('why this encoder (NVENC, or why software)'),
  fallbackReason: z.string().nullable(),
  source: z.string(),
  sourceKind: CaptureKind,
  width: z.number(),
  height: z.number(),
  fps: z.number(),
  requestedKbps: z.number(),
  targetKbps: z.number().describe('the adaptive bitrate now'),
  startedAt: z.string(),
  firstFrameMs: z.number().nullable(),
  restarts: z.number(),
  framesSent: z.number(),
  framesDecoded: z.number().describe('frames decoded by all viewers'),
  unreadableFrames: z.number(),
  bitrateSteps: z.array(z.object({ t: z.number(), from: z.number(), to: z.number(), reason: z.string() })),
  /** Whether the session carries the host's sound, and why not when it does not (one line). */
  audio: z
    .object({
      on: z.boolean(),
      why: z.string().nullable(),
      /** Viewers where the sound is not heard though the session carries it (an older peer, no libsrt there, no output there), and why. */
      notHeard: z.array(z.object({ viewer: z.string(), why: z.string() })).optional(),
    })
    .optional(),
  last: SessionSecond.nullable(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const SelftestResult = z.object({
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  fpsReceived: z.number(),
  framesSent: z.number(),
  framesDecoded: z.number(),
  unreadableFrames: z.number(),
  encoder: EncoderName,
  fallbackReason: z.string().nullable(),
  cpuPercent: z.number().nullable(),
  startMs: z.number().nullable(),
  size: z.string(),
  fps: z.number(),
  seconds: z.number(),
  bitrateKbps: z.number(),
  restarts: z.number(),
  transport: StreamTransport,
  source: CaptureKind,
  /** Frames decoded with a readable stamp. */
  framesIntact: z.number(),
  fecRecovered: z.number(),
  nackRecovered: z.number(),
  framesLost: z.number(),
  keyframeRequests: z.number(),
  /** The longest end-of-loss-burst → clean-picture time seen (ms), null when there was none. */
  cleanPictureMs: z.number().nullable(),
  /** The emulated link: delay each way and random loss each way. */
  oneWayDelayMs: z.number(),
  lossPercent: z.number(),
  /** The emulated link's bottleneck towards the peer (rate, tail-drop queue), when there was one. */
  bottleneck: z.object({ rateKbps: z.number(), queueMs: z.number() }).nullable().optional(),
  /** Adaptive runs: each bitrate step, ms after the start, and why. */
  bitrateSteps: z.array(z.object({ atMs: z.number(), from: z.number(), to: z.number(), reason: z.string() })).optional(),
  /** Our own transport code's CPU (not ffmpeg's), percent of one core: the host's sender, the peer process's receiver. */
  senderCpuPercent: z.number().nullable(),
  receiverCpuPercent: z.number().nullable(),
  ok: z.boolean(),
  reason: z.string().nullable(),
  /** With --audio: the sound's figures over the run (latency and offset from the peer's per-second medians). */
  audio: z
    .object({
      latencyP50Ms: z.number().nullable(),
      avOffsetP50Ms: z.number().nullable(),
      avOffsetP95Ms: z.number().nullable(),
      concealedMs: z.number(),
      packetsLost: z.number(),
      packetsRecovered: z.number(),
    })
    .nullable()
    .optional(),
  /** With --audio, when there is no sound to carry: why (one line). */
  audioUnavailable: z.string().nullable().optional(),
});
export type SelftestResult = z.infer<typeof SelftestResult>;

const Size = { width: z.number().int().min(256).max(7680).multipleOf(2), height: z.number().int().min(144).max(4320).multipleOf(2) };

export const sessionsMethods = {
  'sessions.list': method({ description: 'Streaming sessions with their state and last second of figures.', params: z.object({}).strict().optional(), result: z.array(SessionInfo) }),
  'sessions.start': method({
    description: 'Stream to a paired peer (view scope, online, sharing on). Viewers of the same source and settings share one encoder.',
    params: z
      .object({
        peer: z.string().min(1).max(128),
        ...Size,
        fps: z.number().int().min(1).max(240),
        bitrateKbps: z.number().int().min(100).max(500_000).optional(),
        codec: StreamCodec.default('h264'),
        transport: StreamTransport.default(DEFAULT_TRANSPORT),
        source: SessionSource.optional(),
        /** The host's sound with the picture (rtp); absent: on where a sound server answers. */
        audio: z.boolean().optional(),
      })
      .strict(),
    result: SessionInfo,
  }),
  'sessions.stop': method({ description: 'Stop a session (every viewer of it).', params: z.object({ id: z.string().min(1).max(64) }).strict(), result: SessionInfo }),
  'sessions.selftest': method({
    description: 'How fast is this machine: the real pipeline to a local peer process on loopback, with latency p50/p95/p99.',
    params: z
      .object({
        ...Size,
        fps: z.number().int().min(1).max(240),
        seconds: z.number().int().min(2).max(60),
        encoder: EncoderName.optional(),
        transport: StreamTransport.default(DEFAULT_TRANSPORT),
        oneWayDelayMs: z.number().min(0).max(1000).default(0),
        lossPercent: z.number().min(0).max(50).default(0),
        /** A bottleneck towards the peer: its rate and its tail-drop queue. */
        rateKbps: z.number().min(100).max(10_000_000).optional(),
        queueMs: z.number().min(1).max(10_000).optional(),
        source: CaptureKind.default('test'),
        audio: z.boolean().default(false),
      })
      .strict(),
    result: SelftestResult,
  }),
  'sessions.sources': method({ description: 'Which capture sources work in this desktop session, why the others do not and what to do; the default.', params: z.object({}).strict().optional(), result: CaptureSourcesInfo }),
  'sessions.captureSettings': method({ description: 'Capture settings (unattended GNOME sharing).', params: z.object({}).strict().optional(), result: CaptureSettings }),
  'sessions.setCaptureSettings': method({ description: 'Allow or forbid unattended GNOME sharing (it shares the screen without a dialog).', params: CaptureSettings.strict(), result: CaptureSettings }),
};

export const sessionsEvents = {
  'sessions.changed': event({ description: 'A session started, changed state or ended.', payload: z.array(SessionInfo) }),
  'sessions.approval': event({ description: 'The screen-share dialog is open on the workstation (waiting) or closed again.', payload: z.object({ waiting: z.boolean(), source: CaptureKind, peer: z.string() }) }),
  'sessions.second': event({ description: 'One second of a viewer\'s figures (latency p50/p95, fps, bitrate, RTT).', payload: SessionSecond }),
};
