import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BitrateController, type BitrateStep } from './bitrate-controller';
import { lastLines, spawnTied, type SupervisedSpawn } from './child-process';
import { ENCODER_CODEC, isHardware, type EncoderName } from './encoder-args';
import { buildSenderArgs, type CaptureSource } from './pipeline';
import { cpuSeconds } from './proc-stat';
import { ProgressParser, type EncoderProgress } from './progress';
import { summarize } from './quantiles';
import { linkFigures, type LinkFigures } from './link-figures';
import type { EncoderRuns, SenderTransport, ViewerChange } from './sender-transport';
import { stampAgeMs } from './stamp';
import { senderTransport } from './transport-rooms';
import type { DecodedFrame, LinkStats, ViewerLink } from './viewer-link';
import type { StreamTransport } from '../../shared/contract/peers';
import { capabilities, DEFAULT_TRANSPORT } from '../../shared/transports';
import type { FrameFeed } from '../capture/frame-feed';
import { SessionAudio, type AudioSecondFigures } from '../audio/session-audio';

export interface StreamSettings {
  source: CaptureSource;
  fps: number;
  bitrateKbps: number;
  encoder: EncoderName;
  gpuIndex?: number;
  threads?: number;
  /** Software encoder to fall back to when the hardware one fails to open. */
  fallback?: EncoderName;
  adaptive?: boolean;
  /** Default DEFAULT_TRANSPORT; what each carries: TRANSPORTS (src/shared/transports.ts). */
  transport?: StreamTransport;
  /** SRT latency; default: from the viewer's measured RTT. */
  srtLatencyMs?: number;
  maxRestarts?: number;
  ffmpeg?: string;
  /** Where the frames come from when the source is `frames` (a Wayland capture); its end ends the session. */
  feed?: FrameFeed;
  /** The host's sound with the picture (where the transport carries it: TRANSPORTS[name].audio); where the sound server is reached (tests: a rig's own). */
  audio?: boolean;
  audioEnv?: NodeJS.ProcessEnv;
}

export type StreamState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

/** One second of a viewer's figures: what the Sessions page charts and Prometheus exports. */
export interface StreamSecond extends LinkFigures, AudioSecondFigures {
  t: number;
  viewer: string;
  p50Ms: number | null;
  p95Ms: number | null;
  fpsSent: number;
  fpsReceived: number;
  bitrateKbps: number | null;
  targetKbps: number;
  rttMs: number | null;
  dropped: number;
  duplicated: number;
  unreadable: number;
}

/** The transport's repairs over a whole session (where it reports them), summed from the viewer's seconds. */
export interface RepairTotals {
  fecRecovered: number;
  nackRecovered: number;
  framesLost: number;
  keyframeRequests: number;
  cleanPictureMsMax: number | null;
}

interface Viewer {
  link: ViewerLink;
  latencies: number[];
  allLatencies: number[];
  decoded: number;
  decodedThisSecond: number;
  unreadable: number;
  unreadableThisSecond: number;
  firstFrameAt: number | null;
  /** Settled latency floor (slowly rising minimum of per-second p10), ms. */
  floorMs: number | null;
  /** The last seconds' frames sent, decoded and unreadable: loss is judged over a few seconds, not one. */
  window: { sent: number; decoded: number; unreadable: number }[];
  /** Readable frames decoded in each whole second so far (capped), for the session's typical rate. */
  perSecond: number[];
  /** The transport's packet counters from the viewer, the last few seconds. */
  linkWindow: { received: number; lost: number }[];
  /** This second's transport figures from the viewer. */
  linkSecond: LinkStats | null;
  repairs: RepairTotals;
  onFrames: (frames: DecodedFrame[]) => void;
  onLinkStats: (stats: LinkStats) => void;
  onGone: (reason: string) => void;
}

/** Keyframe requests closer together than this are one (the receiver repeats its own). */
const KEYFRAME_MIN_INTERVAL_MS = 200;

const ALL_LATENCIES_CAP = 100_000;
const WARMUP_MS = 1000;
const LOSS_WINDOW_SECONDS = 5;

/**
 * One encoder feeding one or more viewers through a transport (SenderTransport: when runs start, where
 * they send, how viewers' streams follow; this class knows no transport). Supervises ffmpeg:
 * parses its progress, restarts a crashed encoder with backoff up to a limit (then fails with the
 * reason), falls back from NVENC to software when NVENC cannot open, steps the bitrate with the
 * viewers' loss and latency, and ends cleanly when the last viewer vanishes.
 * Events: 'state' (StreamState), 'second' (StreamSecond), 'bitrate' (BitrateStep), 'ended' (reason).
 */
export class StreamSession extends EventEmitter {
  readonly id = randomUUID();
  state: StreamState = 'starting';
  reason: string | null = null;
  encoder: EncoderName;
  fallbackReason: string | null = null;
  readonly startedAt = Date.now();
  firstFrameMs: number | null = null;
  restarts = 0;
  /** Frames sent as the encoder's progress counts them (where the transport does not count them itself). */
  private framesFromProgress = 0;
  private readonly viewers = new Map<string, Viewer>();
  private sender: SupervisedSpawn | null = null;
  private senderStartedAt = 0;
  private stderrTail = '';
  private progress: EncoderProgress | null = null;
  private lastProgressFrame = 0;
  private timer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly bitrate: BitrateController;
  /** Encoder CPU over its life so far, percent of one core (cumulative CPU time / wall time). */
  private cpuPercent: number | null = null;
  private generation = 0;
  private framesSentAtTick = 0;
  private lastStartFailure: string | null = null;
  readonly transport: StreamTransport;
  private readonly out: SenderTransport;
  /** What the transport may do with the encoder (see EncoderRuns). */
  private readonly runs: EncoderRuns;
  private lastKeyframeAt = 0;
  /** Runs being stopped outside `finish` (replaced, superseded, stale): `finish` waits for them too. */
  private readonly retiring = new Set<Promise<void>>();
  /** Keyframes sent on a viewer's request (each one a new encoder run). */
  keyframesSent = 0;
  /** The host's sound (src/core/audio), when asked for; `audio.why` says why a session asked for it has none. */
  readonly audio: SessionAudio | null;

  get framesSent(): number {
    return this.out.countsFrames ? this.out.framesSent() : this.framesFromProgress;
  }

  constructor(readonly settings: StreamSettings) {
    super();
    this.encoder = settings.encoder;
    this.transport = settings.transport ?? DEFAULT_TRANSPORT;
    this.audio = settings.audio ? new SessionAudio({ env: settings.audioEnv }) : null;
    const caps = capabilities(this.transport);
    if (this.audio && !caps.audio) this.audio.why = caps.audioWhy;
    this.out = senderTransport(this.transport, settings, this.audio);
    this.bitrate = new BitrateController(settings.bitrateKbps, undefined, undefined, this.out.caps.capacityFigures);
    // where runs overlap while one takes over from another, a frame counts as sent when the transport sends it
    this.out.on('keyframe', () => this.requestKeyframe(false));
    this.runs = this.encoderRuns();
    settings.feed?.once('ended', (reason: string) => {
      if (!this.ended) void this.finish('failed', reason);
    });
  }

  /** stdin of an encoder run: a pipe the feed writes frames to, when the source is a feed. */
  private get encoderStdin(): 'pipe' | 'ignore' {
    return this.settings.feed ? 'pipe' : 'ignore';
  }

  /** From now on this run gets the feed's frames (a standby run: once released from its gate). */
  private feedRun(run: SupervisedSpawn): void {
    const feed = this.settings.feed;
    const stdin = run.child.stdin;
    if (!feed || !stdin) return;
    const detach = feed.attach(stdin);
    void run.exited.then(detach);
  }

  get targetKbps(): number {
    return this.bitrate.current;
  }

  /** Viewers a user would name: a passive one (a page's live thumbnail) is left out. */
  get viewerNames(): string[] {
    return [...this.viewers.values()].filter((v) => !v.link.passive).map((v) => v.link.name);
  }

  /** Adds a viewer: the transport opens what it needs, and says whether the encoder restarts or sends a keyframe. */
  async addViewer(link: ViewerLink): Promise<void> {
    if (this.viewers.has(link.name)) throw new Error(`${link.name} already watches this stream`);
    const viewer: Viewer = {
      link, latencies: [], allLatencies: [], decoded: 0, decodedThisSecond: 0, unreadable: 0, unreadableThisSecond: 0, firstFrameAt: null, floorMs: null, window: [], perSecond: [],
      linkWindow: [], linkSecond: null, repairs: { fecRecovered: 0, nackRecovered: 0, framesLost: 0, keyframeRequests: 0, cleanPictureMsMax: null },
      onFrames: (frames) => this.onFrames(viewer, frames),
      onLinkStats: (stats) => this.onLinkStats(viewer, stats),
      onGone: (reason) => void this.removeViewer(link.name, `viewer left: ${reason}`),
    };
    link.on('frames', viewer.onFrames);
    link.on('link-stats', viewer.onLinkStats);
    link.on('gone', viewer.onGone);
    this.viewers.set(link.name, viewer);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), 1000);
      this.timer.unref();
    }
    let change: ViewerChange;
    try {
      // the sound's capture starts with the first viewer, once (none where the transport carries no sound: `why` says so)
      await this.audio?.open();
      change = await this.out.addViewer(link, this.runs);
    } catch (error) {
      const reason = `${link.name} could not open its receiver: ${(error as Error).message}`;
      if (this.viewers.size === 1) await this.finish('failed', reason);
      else await this.removeViewer(link.name, reason);
      return;
    }
    await this.follow(change);
  }

  /** What the encoder does after a viewer joined or left, as the transport said. */
  private async follow(change: ViewerChange): Promise<void> {
    if (change === 'keyframe') this.requestKeyframe(true);
    else if (change === 'launch') await this.launch();
  }

  /** A viewer lost a frame it could not repair (or joined): a new encoder run starts with an IDR. */
  private requestKeyframe(force: boolean): void {
    if (this.ended) return;
    const now = Date.now();
    if (!force && (this.out.switching || now - this.lastKeyframeAt < KEYFRAME_MIN_INTERVAL_MS)) return;
    this.lastKeyframeAt = now;
    this.keyframesSent += 1;
    void this.launch();
  }

  private onLinkStats(viewer: Viewer, stats: LinkStats): void {
    viewer.linkWindow.push({ received: stats.received, lost: stats.lost });
    if (viewer.linkWindow.length > LOSS_WINDOW_SECONDS) viewer.linkWindow.shift();
    viewer.linkSecond = stats;
    const totals = viewer.repairs;
    totals.fecRecovered += stats.fecRecovered ?? 0;
    totals.nackRecovered += stats.nackRecovered ?? 0;
    totals.framesLost += stats.framesLost ?? 0;
    totals.keyframeRequests += stats.keyframeRequests ?? 0;
    if (stats.cleanPictureMs != null) totals.cleanPictureMsMax = Math.max(totals.cleanPictureMsMax ?? 0, stats.cleanPictureMs);
  }

  async removeViewer(name: string, reason: string): Promise<void> {
    const viewer = this.viewers.get(name);
    if (!viewer) return;
    this.viewers.delete(name);
    const { streamId, then } = this.detach(viewer);
    await viewer.link.close(streamId, reason).catch(() => undefined);
    // passive viewers (thumbnails) do not keep a session going on their own
    if ([...this.viewers.values()].every((v) => v.link.passive)) await this.finish('stopped', reason);
    else await this.follow(then);
  }

  /** Stops listening to the viewer and has the transport let it go: the id of its stream now, and what the others need. */
  private detach(viewer: Viewer): { streamId: string; then: ViewerChange } {
    viewer.link.off('frames', viewer.onFrames);
    viewer.link.off('link-stats', viewer.onLinkStats);
    viewer.link.off('gone', viewer.onGone);
    this.audio?.note(viewer.link.name, null);
    return this.out.removeViewer(viewer.link.name);
  }

  async stop(reason = 'stopped'): Promise<void> {
    await this.finish('stopped', reason);
  }

  /** Frames decoded and unreadable across viewers: cheap, unlike `totals()`, which sorts every latency. */
  frameCounts(): { framesDecoded: number; unreadable: number } {
    let framesDecoded = 0;
    let unreadable = 0;
    for (const viewer of this.viewers.values()) {
      if (viewer.link.passive) continue;
      framesDecoded += viewer.decoded;
      unreadable += viewer.unreadable;
    }
    return { framesDecoded, unreadable };
  }

  /** Latency over the whole session (self-test figures). */
  totals(): { framesDecoded: number; unreadable: number; latency: ReturnType<typeof summarize>; cpuPercent: number | null; fpsReceived: number; repairs: RepairTotals } {
    const all = [...this.viewers.values()];
    const first = all[0];
    // the seconds after the first frame; the first one of them is partial
    const seconds = first ? [...first.perSecond.slice(1)].sort((a, b) => a - b) : [];
    const latencies = all.flatMap((v) => v.allLatencies);
    return {
      ...this.frameCounts(),
      latency: summarize(latencies),
      cpuPercent: this.cpuPercent,
      // the first viewer's typical second: the median, so start-up catch-up bursts do not inflate it
      fpsReceived: seconds.length > 0 ? seconds[Math.floor(seconds.length / 2)]! : 0,
      repairs: all.reduce<RepairTotals>(
        (sum, v) => ({
          fecRecovered: sum.fecRecovered + v.repairs.fecRecovered,
          nackRecovered: sum.nackRecovered + v.repairs.nackRecovered,
          framesLost: sum.framesLost + v.repairs.framesLost,
          keyframeRequests: sum.keyframeRequests + v.repairs.keyframeRequests,
          cleanPictureMsMax: v.repairs.cleanPictureMsMax === null ? sum.cleanPictureMsMax : Math.max(sum.cleanPictureMsMax ?? 0, v.repairs.cleanPictureMsMax),
        }),
        { fecRecovered: 0, nackRecovered: 0, framesLost: 0, keyframeRequests: 0, cleanPictureMsMax: null },
      ),
    };
  }

  private get ended(): boolean {
    return this.state === 'stopped' || this.state === 'failed';
  }

  private setState(state: StreamState, reason: string | null = this.reason): void {
    this.state = state;
    this.reason = reason;
    this.emit('state', state);
  }

  private async finish(state: 'stopped' | 'failed', reason: string): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.generation += 1;
    if (this.timer) clearInterval(this.timer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.setState(state, reason);
    const hadSender = this.sender !== null;
    await Promise.all([this.sender?.stop(), ...this.out.stopRuns(), ...this.retiring]);
    this.sender = null;
    // the viewers' last batches of decoded frames are still on their way
    if (hadSender && state === 'stopped') await new Promise((resolve) => setTimeout(resolve, 300));
    for (const viewer of this.viewers.values()) {
      const { streamId } = this.detach(viewer);
      await viewer.link.close(streamId, reason).catch(() => undefined);
    }
    this.out.close();
    await this.audio?.close();
    this.emit('ended', reason);
  }

  /** Starts an encoder run, as the transport does it (reopening the viewers' receivers, or taking over from the running one). */
  private async launch(): Promise<void> {
    if (this.ended) return;
    await this.out.launch(this.runs, ++this.generation);
  }

  /** What the transport may do with the encoder: the session keeps the supervision. */
  private encoderRuns(): EncoderRuns {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const session = this;
    return {
      get ended() {
        return session.ended;
      },
      get targetKbps() {
        return session.bitrate.current;
      },
      get shape() {
        const { width, height } = session.settings.source;
        return { codec: ENCODER_CODEC[session.encoder], width, height, fps: session.settings.fps };
      },
      isCurrent: (generation) => generation === this.generation,
      args: (target) => buildSenderArgs({ ...this.settings, encoder: this.encoder, bitrateKbps: this.bitrate.current, ...target }),
      spawn: (args, generation, started) => this.spawnEncoder(args, generation, started),
      spawnAhead: (args) => spawnTied(this.settings.ffmpeg ?? 'ffmpeg', args, [this.encoderStdin, 'pipe', 'pipe', 'pipe']),
      stopCurrent: async () => {
        await this.sender?.stop();
        this.sender = null;
      },
      retire: (run, graceMs) => this.retire(run, graceMs),
      fail: (reason) => this.finish('failed', reason),
      runKey: () => `${this.encoder}/${this.bitrate.current}`,
      streamsReopened: () => {
        for (const viewer of this.viewers.values()) {
          viewer.firstFrameAt = null;
          viewer.window = [];
          viewer.linkWindow = [];
        }
      },
      viewers: () => [...this.viewers.values()].map((viewer) => viewer.link),
    };
  }

  private retire(run: SupervisedSpawn, graceMs?: number): void {
    const stopped = run.stop(graceMs);
    this.retiring.add(stopped);
    void stopped.then(() => this.retiring.delete(stopped));
  }

  /** One ffmpeg encoder run (or one started ahead): its progress, its last words, and what happens when it exits. */
  private spawnEncoder(args: string[], generation: number, started?: SupervisedSpawn): SupervisedSpawn {
    this.stderrTail = '';
    this.lastProgressFrame = 0;
    this.senderStartedAt = Date.now();
    const sender = started ?? spawnTied(this.settings.ffmpeg ?? 'ffmpeg', args, [this.encoderStdin, 'pipe', 'pipe']);
    // a run started ahead is fed from here too: it reads the frames once released from its gate
    this.feedRun(sender);
    this.sender = sender;
    // a run being replaced (make before break) still sends until the new one takes over: count only the newest
    const parser = new ProgressParser((progress) => {
      if (this.sender === sender) this.onProgress(progress);
    });
    sender.child.stdout!.setEncoding('utf8');
    sender.child.stdout!.on('data', (text: string) => parser.push(text));
    sender.child.stderr!.setEncoding('utf8');
    sender.child.stderr!.on('data', (text: string) => {
      if (this.sender === sender) this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
    if (this.state !== 'running') this.setState(this.state === 'restarting' ? 'restarting' : 'starting');
    void sender.exited.then((exit) => {
      if (generation !== this.generation) return;
      void this.onSenderExit(exit.error ?? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`));
    });
    return sender;
  }

  private async onSenderExit(how: string): Promise<void> {
    const detail = lastLines(this.stderrTail);
    // this run never produced a frame: an encoder that cannot open, a capture area off the screen…
    const startFailure = Date.now() - this.senderStartedAt < 5000 && this.lastProgressFrame === 0;
    if (isHardware(this.encoder) && startFailure && this.settings.fallback) {
      this.fallbackReason = `${this.encoder} could not open (${detail || how}); using ${this.settings.fallback}`;
      this.encoder = this.settings.fallback;
      this.emit('fallback', this.fallbackReason);
      await this.launch();
      return;
    }
    // the same failure to start, twice in a row, will not go away by retrying
    const failedToStart = startFailure ? detail || how : null;
    if (failedToStart !== null && failedToStart === this.lastStartFailure) {
      await this.finish('failed', `the encoder cannot start: ${failedToStart}`);
      return;
    }
    this.lastStartFailure = failedToStart;
    this.restarts += 1;
    const limit = this.settings.maxRestarts ?? 5;
    if (this.restarts > limit) {
      await this.finish('failed', `the encoder failed ${this.restarts} times; last: ${how}${detail ? `: ${detail}` : ''}`);
      return;
    }
    this.setState('restarting', `encoder ${how}${detail ? `: ${detail}` : ''}; restart ${this.restarts} of ${limit}`);
    const delay = Math.min(4000, 250 * 2 ** (this.restarts - 1));
    const generation = this.generation;
    this.restartTimer = setTimeout(() => {
      if (generation === this.generation) void this.launch();
    }, delay);
  }

  private onProgress(progress: EncoderProgress): void {
    // ffmpeg's frame counter restarts with each encoder process
    const delta = progress.frame >= this.lastProgressFrame ? progress.frame - this.lastProgressFrame : progress.frame;
    this.lastProgressFrame = progress.frame;
    if (!this.out.countsFrames) this.framesFromProgress += delta;
    this.progress = progress;
  }

  private onFrames(viewer: Viewer, frames: DecodedFrame[]): void {
    const { offsetMs } = viewer.link.clock();
    for (const frame of frames) {
      viewer.decoded += 1;
      viewer.decodedThisSecond += 1;
      if (frame.stampMs === null) {
        viewer.unreadable += 1;
        viewer.unreadableThisSecond += 1;
        continue;
      }
      const hostTime = frame.decodedAt - (offsetMs ?? 0);
      const age = stampAgeMs(frame.stampMs, hostTime);
      if (age < -1000 || age > 60_000) continue;
      viewer.latencies.push(age);
      if (viewer.firstFrameAt === null) {
        viewer.firstFrameAt = hostTime;
        if (this.firstFrameMs === null) this.firstFrameMs = Math.round(hostTime - this.startedAt);
      }
      // whole-session figures leave out the start-up backlog: frames captured before the first frame
      // reached the viewer (queued while SRT connected) measure start-up, reported as firstFrameMs
      const capturedAt = hostTime - age;
      if (capturedAt >= viewer.firstFrameAt && viewer.allLatencies.length < ALL_LATENCIES_CAP) viewer.allLatencies.push(age);
    }
    if (this.state === 'starting' || this.state === 'restarting') this.setState('running', null);
  }

  private async tick(): Promise<void> {
    if (this.sender?.child.pid) {
      const seconds = await cpuSeconds(this.sender.child.pid);
      if (seconds !== null) {
        const elapsed = (Date.now() - this.senderStartedAt) / 1000;
        if (elapsed > 1) this.cpuPercent = Math.round((seconds / elapsed) * 1000) / 10;
      }
    }
    const progress = this.progress;
    const sentNow = this.framesSent - this.framesSentAtTick;
    this.framesSentAtTick = this.framesSent;
    for (const [name, viewer] of this.viewers) {
      if (viewer.link.passive) continue;
      viewer.window.push({ sent: sentNow, decoded: viewer.decodedThisSecond, unreadable: viewer.unreadableThisSecond });
      if (viewer.firstFrameAt !== null && viewer.perSecond.length < 3600) viewer.perSecond.push(viewer.decodedThisSecond - viewer.unreadableThisSecond);
      if (viewer.window.length > LOSS_WINDOW_SECONDS) viewer.window.shift();
      const summary = summarize(viewer.latencies);
      const link = viewer.linkSecond;
      viewer.linkSecond = null;
      const second: StreamSecond = {
        t: Date.now(), viewer: name, p50Ms: summary.p50Ms, p95Ms: summary.p95Ms,
        fpsSent: progress?.fps ?? 0, fpsReceived: viewer.decodedThisSecond,
        bitrateKbps: progress?.bitrateKbps ?? null, targetKbps: this.bitrate.current,
        // a transport that measures the media path itself (rtp: SR/RR) may differ from the control channel
        rttMs: round1(this.out.rttMs(name)) ?? viewer.link.clock().rttMs, dropped: progress?.dropped ?? 0, duplicated: progress?.duplicated ?? 0,
        unreadable: viewer.unreadableThisSecond,
        ...linkFigures(this.out.caps, link),
        ...(this.audio ?? NO_AUDIO).second(link?.audio, viewer.link.clock().offsetMs),
      };
      this.emit('second', second);
      // where ffmpeg sends (srt), each encoder run starts over (a new connection, a start-up backlog). Where
      // the transport sends (rtp), its streams run on across runs, a congested link's keyframe requests replace
      // runs faster than ffmpeg reports progress, and a link too narrow for the first keyframe shows no
      // picture at all until the rate comes down
      const warm = this.out.countsFrames
        ? !this.ended && sentNow > 0 && Date.now() - this.startedAt > 3 * WARMUP_MS
        : this.state === 'running' && progress && progress.fps > 0 && Date.now() - this.senderStartedAt > 3 * WARMUP_MS;
      if (this.settings.adaptive !== false && warm) {
        const sum = viewer.window.reduce((acc, w) => ({ sent: acc.sent + w.sent, good: acc.good + w.decoded - w.unreadable }), { sent: 0, good: 0 });
        // frames sent but still on their way (about one latency's worth) are not lost
        const inFlight = ((summary.p50Ms ?? 0) / 1000) * this.settings.fps + 1;
        const lossRatio = viewer.window.length === LOSS_WINDOW_SECONDS && sum.sent > 0 ? Math.max(0, (sum.sent - sum.good - inFlight) / sum.sent) : 0;
        const packets = viewer.linkWindow.reduce((acc, w) => ({ received: acc.received + w.received, lost: acc.lost + w.lost }), { received: 0, lost: 0 });
        const packetLossRatio = packets.received + packets.lost > 0 ? packets.lost / (packets.received + packets.lost) : null;
        const gauge = {
          queueDelayMs: link?.queueDelayMs ?? null, receivedKbps: link?.receivedKbps ?? null, trainKbps: link?.trainKbps ?? null, fecRatio: this.out.fecRatio(name),
          secondLossRatio: link && link.received + link.lost > 0 ? link.lost / (link.received + link.lost) : null,
        };
        const step = this.bitrate.observe({ lossRatio, packetLossRatio, lateRatio: this.lateRatio(viewer, second.rttMs), p95Ms: summary.p95Ms, rttMs: second.rttMs, ...gauge }, Date.now());
        // the FEC a full link's tail drop would raise only fills it more: it follows the random loss meanwhile
        if (gauge.queueDelayMs !== null) this.out.linkQueue(name, this.bitrate.queueLoss);
        if (step) void this.applyStep(step);
      }
      viewer.latencies = [];
      viewer.decodedThisSecond = 0;
      viewer.unreadableThisSecond = 0;
    }
  }

  /** Share of this second's frames later than the floor by most of a round trip (a retransmitted packet). */
  private lateRatio(viewer: Viewer, rttMs: number | null): number {
    // a retransmission on a link of a few ms is lost in scheduling noise: only judge a real round trip
    if (viewer.latencies.length === 0 || (rttMs ?? 0) < 10) return 0;
    const sorted = [...viewer.latencies].sort((a, b) => a - b);
    const p10 = sorted[Math.floor(sorted.length * 0.1)]!;
    viewer.floorMs = viewer.floorMs === null ? p10 : Math.min(viewer.floorMs + 0.05, p10);
    const margin = Math.max(10, 0.75 * (rttMs ?? 0));
    return sorted.filter((ms) => ms > viewer.floorMs! + margin).length / sorted.length;
  }

  private async applyStep(step: BitrateStep): Promise<void> {
    this.emit('bitrate', step);
    this.out.setTargetKbps(step.to, this.bitrate.linkCapKbps);
    // x264 and NVENC through the ffmpeg CLI cannot change rate live: restart with an IDR
    await this.launch();
  }
}

/** The figures of a session without sound: all null. */
const NO_AUDIO = new SessionAudio();

function round1(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

