import type { PeerRecord, StreamRequest, StreamTransport } from '../../shared/contract/peers';
import { browserRefusal, codecRefusal, DEFAULT_TRANSPORT, frameBudgetRefusal } from '../../shared/transports';
import type { CaptureKind, CaptureSettings, CaptureSourcesInfo, SelftestResult, SessionInfo, SessionSecond, SessionSource } from '../../shared/contract/sessions';
import { CaptureSettingsStore } from '../capture/capture-settings';
import { captureRequestFor } from '../capture/capture-request';
import { detectCaptureSources, sessionTypeOf } from '../capture/detect';
import { CaptureError, openCapture, type CaptureRequest, type OpenedCapture } from '../capture/open-capture';
import type { DesktopInputRouter } from '../input/desktop-input-router';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { PeersService } from '../pairing/peers-service';
import type { EventHub } from '../rpc/event-hub';
import type { HandlerGroup } from '../rpc/handlers';
import type { SharingService } from '../sharing/sharing-service';
import { chooseEncoder, ffmpegEncoders, type GpuEncodeCaps } from './encoder-choice';
import type { Codec, EncoderName } from './encoder-args';
import { defaultBitrateKbps, runSelftest } from './selftest';
import { StreamSession, type StreamSecond } from './stream-session';
import type { ViewerLink } from './viewer-link';

export interface SessionManagerOptions {
  peers: PeersService;
  sharing: SharingService;
  audit: AuditLog;
  events: EventHub;
  /** Encoders at once (each may feed several viewers). */
  maxSessions?: number;
  /** The GPU's encode capabilities and NVENC sessions in use (inventory + NVML); null: no NVIDIA GPU. */
  gpuCaps?: () => Promise<GpuEncodeCaps | null>;
  /** X display captured when a request names none. */
  defaultDisplay?: string | null;
  /** The desktop session's environment (XDG_SESSION_TYPE, WAYLAND_DISPLAY, the session bus…). */
  env?: NodeJS.ProcessEnv;
  /** Where the portal's restore token and the capture settings are kept. */
  configDir?: string;
  /** Where a Wayland capture's input goes (peers' input events are sent there). */
  inputRouter?: DesktopInputRouter;
  /** How to start a local `peer receive` for the self-test; null where this shell cannot. */
  peerReceiveCommand?: { file: string; args: string[]; env?: NodeJS.ProcessEnv } | null;
  ffmpeg?: string;
}

interface Entry {
  session: StreamSession;
  key: string;
  codec: Codec;
  encoderReason: string;
  sourceLabel: string;
  sourceKind: CaptureKind;
  capture: OpenedCapture;
  requestedKbps: number;
  steps: { t: number; from: number; to: number; reason: string }[];
  last: SessionSecond | null;
  /** The first-frame time last published in sessions.changed. */
  reportedFirstFrameMs: number | null;
}

export interface StartRequest {
  peer: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps?: number;
  codec?: Codec;
  /** Default rtp. */
  transport?: StreamTransport;
  source?: SessionSource;
  /** The host's sound with the picture; absent: on (a host with no sound server says so and runs without). */
  audio?: boolean;
}

/**
 * Streaming sessions of this host: start (owner or a peer's request), stop, list; fan-out of viewers
 * with the same source and settings onto one encoder; a cap on encoders; the NVENC budget; everything
 * stops with sharing off or the kill switch. Publishes `sessions.changed` and `sessions.second`.
 */
export class SessionManager {
  private readonly entries = new Map<string, Entry>();
  private encoders: Promise<Set<EncoderName>> | null = null;
  private selftestRunning = false;
  private readonly captureSettings: CaptureSettingsStore | null;

  constructor(private readonly options: SessionManagerOptions) {
    this.captureSettings = options.configDir ? new CaptureSettingsStore(options.configDir) : null;
    options.sharing.onKill((reason) => this.stopAll(reason));
    options.events.subscribe((message) => {
      if (message.event === 'sharing.changed' && !(message.payload as { sharing: boolean }).sharing) void this.stopAll('sharing was turned off');
    });
    options.peers.setStreamRequestHandler((peer, request) => this.onPeerRequest(peer, request));
  }

  /** Sessions not yet ended (the ones listed for a minute after they end hold no encoder). */
  get liveCount(): number {
    return [...this.entries.values()].filter((entry) => entry.session.state !== 'stopped' && entry.session.state !== 'failed').length;
  }

  list(): SessionInfo[] {
    return [...this.entries.values()].map((entry) => this.info(entry));
  }

  private info(entry: Entry): SessionInfo {
    const s = entry.session;
    const counts = s.frameCounts();
    return {
      id: s.id, viewers: s.viewerNames, state: s.state, reason: s.reason, encoder: s.encoder, transport: s.transport, encoderReason: entry.encoderReason,
      fallbackReason: s.fallbackReason, source: entry.sourceLabel, sourceKind: entry.sourceKind, width: s.settings.source.width, height: s.settings.source.height,
      fps: s.settings.fps, requestedKbps: entry.requestedKbps, targetKbps: s.targetKbps, startedAt: new Date(s.startedAt).toISOString(),
      firstFrameMs: s.firstFrameMs, restarts: s.restarts, framesSent: s.framesSent, framesDecoded: counts.framesDecoded, unreadableFrames: counts.unreadable, bitrateSteps: entry.steps.slice(-20), last: entry.last,
      audio: { on: Boolean(s.audio?.on), why: s.audio ? s.audio.why : 'not asked for', notHeard: s.audio?.notHeard ?? [] },
    };
  }

  private changed(): void {
    for (const entry of this.entries.values()) entry.reportedFirstFrameMs = entry.session.firstFrameMs;
    this.options.events.emit('sessions.changed', this.list());
  }

  private availableEncoders(): Promise<Set<EncoderName>> {
    this.encoders ??= ffmpegEncoders(this.options.ffmpeg).catch(() => new Set<EncoderName>());
    return this.encoders;
  }

  private get env(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  async sources(): Promise<CaptureSourcesInfo> {
    return detectCaptureSources(this.env, await this.getCaptureSettings());
  }

  async getCaptureSettings(): Promise<CaptureSettings> {
    return (await this.captureSettings?.read()) ?? { unattendedGnome: false };
  }

  async setCaptureSettings(settings: CaptureSettings, who: string): Promise<CaptureSettings> {
    if (!this.captureSettings) throw new ApiError(ErrorCode.Unavailable, 'this shell keeps no settings');
    await this.captureSettings.write(settings);
    await this.options.audit.append({ who, action: 'capture.settings', target: 'unattended-gnome', result: 'ok', detail: settings.unattendedGnome ? 'on: GNOME shares the screen without a dialog' : 'off' });
    return settings;
  }

  /** The capture a request asks for, or this session's default (sessions.sources says why none works). */
  private async captureRequest(request: { width: number; height: number; fps: number; source?: SessionSource }, input: boolean): Promise<CaptureRequest> {
    let source = request.source;
    if (!source) {
      if (this.options.defaultDisplay && sessionTypeOf(this.env) !== 'wayland') source = { kind: 'x11', display: this.options.defaultDisplay, x: 0, y: 0 };
      else {
        const found = await this.sources();
        if (!found.defaultSource) {
          const why = found.sources.filter((s) => s.kind !== 'test').map((s) => `${s.kind}: ${s.detail}`).join('; ');
          throw new ApiError(ErrorCode.Unavailable, `no screen to capture in this session (${why}); see gpu-bridge info for what to do`);
        }
        source = found.defaultSource === 'x11' ? { kind: 'x11', display: this.options.defaultDisplay ?? this.env.DISPLAY ?? ':0', x: 0, y: 0 } : found.defaultSource === 'wlroots' ? { kind: 'wlroots' } : { kind: found.defaultSource } as SessionSource;
      }
    }
    try {
      return captureRequestFor(source, request, { input, unattendedGnome: (await this.getCaptureSettings()).unattendedGnome });
    } catch (error) {
      throw new ApiError(ErrorCode.Refused, (error as Error).message);
    }
  }

  /** Opens the capture; the UI is told while the workstation's screen-share dialog is open. */
  private async open(capture: CaptureRequest, peer: string): Promise<OpenedCapture> {
    try {
      return await openCapture(capture, {
        env: this.env,
        configDir: this.options.configDir ?? '.',
        onApproval: (waiting) => this.options.events.emit('sessions.approval', { waiting, source: capture.kind, peer }),
      });
    } catch (error) {
      if (error instanceof CaptureError) throw new ApiError(ErrorCode.Unavailable, error.message);
      throw error;
    }
  }

  private async peerHasInput(ref: string): Promise<boolean> {
    const peers = await this.options.peers.list().catch(() => []);
    const peer = peers.find((p) => p.fingerprint === ref || p.name === ref);
    return Boolean(peer?.scopes.includes('input'));
  }

  async start(request: StartRequest, who: string): Promise<SessionInfo> {
    if (!this.options.sharing.sharing) throw new ApiError(ErrorCode.Refused, 'sharing is off: turn it on (tray or Sessions page) before starting a session');
    const link = await this.options.peers.viewerLink(request.peer);
    return this.startFor(link, request, who, await this.peerHasInput(request.peer));
  }

  /** A browser over WebRTC joins a running session, where its transport carries browsers (browserRefusal, src/shared/transports.ts). */
  async join(id: string, link: ViewerLink, who: string): Promise<SessionInfo> {
    if (!this.options.sharing.sharing) throw new ApiError(ErrorCode.Refused, 'sharing is off: turn it on (tray or Sessions page) before watching');
    const entry = this.entries.get(id);
    if (!entry || entry.session.state === 'stopped' || entry.session.state === 'failed') throw new ApiError(ErrorCode.NotFound, `no live session ${id}`);
    const refusal = browserRefusal(entry.session.transport, entry.codec);
    if (refusal) throw new ApiError(ErrorCode.Refused, `session ${id}: ${refusal}`);
    await entry.session.addViewer(link);
    await this.options.audit.append({ who, action: 'session.join', target: link.name, result: 'ok', detail: `${id} (shared encoder)` });
    this.changed();
    return this.info(entry);
  }

  /** A session (or a seat on a matching one) for this viewer; `input`: whether its capture opens input too. */
  async startFor(link: ViewerLink, request: Omit<StartRequest, 'peer'>, who: string, input: boolean): Promise<SessionInfo> {
    if (!this.options.sharing.sharing) throw new ApiError(ErrorCode.Refused, 'sharing is off: turn it on (tray or Sessions page) before starting a session');
    const codec = request.codec ?? 'h264';
    const transport = request.transport ?? DEFAULT_TRANSPORT;
    const refusal = codecRefusal(transport, codec);
    if (refusal) throw new ApiError(ErrorCode.InvalidParams, refusal);
    const captureRequest = await this.captureRequest(request, input);
    const bitrateKbps = request.bitrateKbps ?? defaultBitrateKbps(request.width, request.height, request.fps);
    const tooLarge = frameBudgetRefusal(transport, bitrateKbps, request.fps);
    if (tooLarge) throw new ApiError(ErrorCode.InvalidParams, tooLarge);
    const { input: _input, ...captureKey } = captureRequest;
    const key = JSON.stringify({ source: captureKey, fps: request.fps, bitrateKbps, codec, transport });
    const shared = [...this.entries.values()].find((entry) => entry.key === key && (entry.session.state === 'running' || entry.session.state === 'starting'));
    if (shared) {
      await shared.session.addViewer(link);
      await this.options.audit.append({ who, action: 'session.join', target: link.name, result: 'ok', detail: `${shared.session.id} (shared encoder)` });
      this.changed();
      return this.info(shared);
    }
    const maxSessions = this.options.maxSessions ?? 4;
    // an ended session stays listed a minute for its reason, but holds no encoder: only live ones count
    const live = this.liveCount;
    if (live >= maxSessions) throw new ApiError(ErrorCode.Conflict, `already ${live} sessions (the maximum is ${maxSessions}); stop one first`);
    const caps = (await this.options.gpuCaps?.().catch(() => null)) ?? null;
    let choice;
    try {
      choice = chooseEncoder(codec, caps, await this.availableEncoders());
    } catch (error) {
      throw new ApiError(ErrorCode.Unavailable, (error as Error).message);
    }
    const capture = await this.open(captureRequest, link.name);
    const session = new StreamSession({ source: capture.source, feed: capture.feed ?? undefined, fps: request.fps, bitrateKbps, encoder: choice.encoder, fallback: choice.fallback, transport, ffmpeg: this.options.ffmpeg, audio: request.audio ?? true });
    const entry: Entry = {
      session, key, codec, encoderReason: choice.reason, requestedKbps: bitrateKbps, steps: [], last: null, reportedFirstFrameMs: null,
      sourceLabel: capture.label, sourceKind: capture.kind, capture,
    };
    if (capture.input) this.options.inputRouter?.use(capture.input);
    this.entries.set(session.id, entry);
    session.on('state', () => this.changed());
    session.on('fallback', () => this.changed());
    session.on('second', (second: StreamSecond) => {
      entry.last = { ...second, sessionId: session.id };
      this.options.events.emit('sessions.second', entry.last);
      // the first readable stamp can come after the state went to running (its first frames' stamps
      // unreadable): without a change published then, the page would say "not yet" while it streams
      if (session.firstFrameMs !== entry.reportedFirstFrameMs) this.changed();
    });
    session.on('bitrate', (step: { from: number; to: number; reason: string }) => {
      entry.steps.push({ t: Date.now(), ...step });
      if (entry.steps.length > 100) entry.steps.shift();
      this.changed();
    });
    session.once('ended', (reason: string) => {
      if (capture.input) this.options.inputRouter?.use(null);
      void capture.close();
      void this.options.audit.append({ who: 'gpu-bridge', action: 'session.end', target: session.viewerNames.join(',') || link.name, result: session.state === 'failed' ? 'failed' : 'ok', detail: `${session.id}: ${reason}` });
      this.changed();
      // keep the ended session listed for a minute so its reason can be read
      setTimeout(() => {
        this.entries.delete(session.id);
        this.changed();
      }, 60_000).unref();
    });
    await this.options.audit.append({ who, action: 'session.start', target: link.name, result: 'ok', detail: `${session.id} ${request.width}x${request.height}@${request.fps} ${bitrateKbps} kbit/s over ${transport}; ${choice.reason}` });
    this.changed();
    await session.addViewer(link);
    return this.info(entry);
  }

  async stop(id: string, who: string, reason = 'stopped by the owner'): Promise<SessionInfo> {
    const entry = this.entries.get(id);
    if (!entry) throw new ApiError(ErrorCode.NotFound, `no session ${id}`);
    await entry.session.stop(reason);
    await this.options.audit.append({ who, action: 'session.stop', target: entry.session.viewerNames.join(','), result: 'ok', detail: id });
    return this.info(entry);
  }

  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.session.stop(reason)));
  }

  private async onPeerRequest(peer: PeerRecord, request: StreamRequest): Promise<void> {
    if (!this.options.sharing.sharing) throw new Error('the host is not sharing right now (its owner has sharing off)');
    await this.start({ peer: peer.fingerprint, width: request.width, height: request.height, fps: request.fps, bitrateKbps: request.bitrateKbps, codec: request.codec, transport: request.transport }, `peer:${peer.name}`);
  }

  async selftest(params: { width: number; height: number; fps: number; seconds: number; encoder?: EncoderName; transport?: StreamTransport; oneWayDelayMs?: number; lossPercent?: number; rateKbps?: number; queueMs?: number; source?: CaptureKind; audio?: boolean }): Promise<SelftestResult> {
    const command = this.options.peerReceiveCommand;
    if (!command) throw new ApiError(ErrorCode.Unavailable, 'this shell cannot start a local peer process for the self-test; run `gpu-bridge session selftest` instead');
    if (this.selftestRunning) throw new ApiError(ErrorCode.Conflict, 'a self-test is already running');
    this.selftestRunning = true;
    try {
      const available = await this.availableEncoders();
      const caps = (await this.options.gpuCaps?.().catch(() => null)) ?? null;
      const choice = params.encoder ? { encoder: params.encoder, fallback: params.encoder.endsWith('_nvenc') ? ('libx264' as const) : undefined } : chooseEncoder('h264', caps, available);
      if (!available.has(choice.encoder)) throw new ApiError(ErrorCode.Unavailable, `this ffmpeg has no ${choice.encoder}`);
      const kind = params.source ?? 'test';
      const source: SessionSource = kind === 'x11' ? { kind: 'x11', display: this.options.defaultDisplay ?? this.env.DISPLAY ?? ':0', x: 0, y: 0 } : { kind } as SessionSource;
      const capture = await this.open(await this.captureRequest({ ...params, source }, false), 'self-test peer');
      try {
        return await runSelftest({ ...params, capture, encoder: choice.encoder, fallback: choice.fallback, ffmpeg: this.options.ffmpeg,
          // the local peer shares this machine's output: it counts the sound and drops it (played, it would loop into the capture)
          peerCommand: params.audio ? { ...command, env: { ...(command.env ?? process.env), GPU_BRIDGE_AUDIO_OUTPUT: 'none' } } : command });
      } finally {
        await capture.close();
      }
    } finally {
      this.selftestRunning = false;
    }
  }

  handlers(): HandlerGroup<'sessions.list' | 'sessions.start' | 'sessions.stop' | 'sessions.selftest' | 'sessions.sources' | 'sessions.captureSettings' | 'sessions.setCaptureSettings'> {
    return {
      'sessions.sources': () => this.sources(),
      'sessions.captureSettings': () => this.getCaptureSettings(),
      'sessions.setCaptureSettings': (params, ctx) => this.setCaptureSettings(params, `${ctx.shell}:${ctx.clientId}`),
      'sessions.list': () => this.list(),
      'sessions.start': (params, ctx) => this.start(params, `${ctx.shell}:${ctx.clientId}`),
      'sessions.stop': (params, ctx) => this.stop(params.id, `${ctx.shell}:${ctx.clientId}`),
      'sessions.selftest': (params) => this.selftest(params),
    };
  }
}
