import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BitrateController, type BitrateStep } from './bitrate-controller';
import { lastLines, spawnTied, type SupervisedSpawn } from './child-process';
import { ENCODER_CODEC, isHardware, type EncoderName } from './encoder-args';
import { buildSenderArgs, type CaptureSource } from './pipeline';
import { cpuSeconds } from './proc-stat';
import { ProgressParser, type EncoderProgress } from './progress';
import { summarize } from './quantiles';
import { newPassphrase, srtLatencyFromRtt } from './srt-url';
import { stampAgeMs } from './stamp';
import type { DecodedFrame, LinkStats, ViewerLink } from './viewer-link';
import type { StreamTransport } from '../../shared/contract/peers';
import type { FrameFeed } from '../capture/frame-feed';
import { keysToWire, MEDIA_PAYLOAD_TYPE, newRtpKeys } from '../rtp/rtp-keys';
import { RtpOutput } from '../rtp/rtp-output';
import { RtpPeerSender } from '../rtp/rtp-peer-sender';

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
  /** rtp (default): encrypted RTP with FEC and NACK; srt: SRT with its ARQ buffer. */
  transport?: StreamTransport;
  /** SRT latency; default: from the viewer's measured RTT. */
  srtLatencyMs?: number;
  maxRestarts?: number;
  ffmpeg?: string;
  /** Where the frames come from when the source is `frames` (a Wayland capture); its end ends the session. */
  feed?: FrameFeed;
}

export type StreamState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

/** One second of a viewer's figures: what the Sessions page charts and Prometheus exports. */
export interface StreamSecond {
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
  packetsLost: number | null;
  fecRecovered: number | null;
  nackRecovered: number | null;
  framesLost: number | null;
  keyframeRequests: number | null;
  cleanPictureMs: number | null;
}

/** The rtp transport's repairs over a whole session, summed from the viewer's seconds. */
export interface RtpTotals {
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
  /** This second's transport figures from the viewer (rtp adds its repairs). */
  linkSecond: LinkStats | null;
  rtpTotals: RtpTotals;
  /** rtp: this viewer's stream id for the whole session (its receiver stays across encoder runs). */
  rtpStreamId: string;
  onFrames: (frames: DecodedFrame[]) => void;
  onLinkStats: (stats: LinkStats) => void;
  onGone: (reason: string) => void;
}

/** Keyframe requests closer together than this are one (the receiver repeats its own). */
const KEYFRAME_MIN_INTERVAL_MS = 200;

/**
 * A run still at its gate blocks reading fd 3, where ffmpeg restarts the read after SIGTERM (it would
 * live until the SIGKILL two seconds later); it has sent nothing, so it is killed at once.
 */
const AT_GATE_GRACE_MS = 0;

const ALL_LATENCIES_CAP = 100_000;
const WARMUP_MS = 1000;
const LOSS_WINDOW_SECONDS = 5;

/**
 * One encoder feeding one or more viewers (rtp: our fan-out, RtpOutput; srt: ffmpeg's tee muxer). Supervises ffmpeg:
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
  framesSent = 0;
  private passphrase = newPassphrase();
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
  /** The current encoder run's stream id (viewers' listeners are opened per run). */
  private streamId: string = randomUUID();
  private framesSentAtTick = 0;
  private lastStartFailure: string | null = null;
  readonly transport: StreamTransport;
  /** rtp: the fan-out from each encoder run's loopback RTP to the viewers' encrypted streams. */
  private readonly rtp: RtpOutput | null;
  /** rtp: encoder runs by their RtpOutput source; the newest takes over at its first frame (make before break). */
  private readonly runs = new Map<number, SupervisedSpawn>();
  private lastKeyframeAt = 0;
  /** rtp: the next run, started ahead and held at its gate (see GATE_INPUT), for this encoder and bitrate. */
  private standby: { process: SupervisedSpawn; sourceId: number; key: string } | null = null;
  private standbyTimer: NodeJS.Timeout | null = null;
  /** Runs being stopped outside `finish` (replaced, superseded, stale): `finish` waits for them too. */
  private readonly retiring = new Set<Promise<void>>();
  /** rtp: keyframes sent on a viewer's request (each one a new encoder run). */
  keyframesSent = 0;

  constructor(readonly settings: StreamSettings) {
    super();
    this.encoder = settings.encoder;
    this.bitrate = new BitrateController(settings.bitrateKbps);
    this.transport = settings.transport ?? 'rtp';
    this.rtp = this.transport === 'rtp' ? new RtpOutput() : null;
    // rtp: a frame counts as sent when our fan-out sends it (runs overlap while one takes over from another)
    this.rtp?.on('frame', () => (this.framesSent += 1));
    this.rtp?.on('switched', (oldId: number | null) => {
      const old = oldId === null ? undefined : this.runs.get(oldId);
      if (oldId !== null) this.runs.delete(oldId);
      if (old) this.retire(old);
    });
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

  /**
   * Adds a viewer. srt: the encoder restarts with one more output (a fresh IDR for all). rtp: the viewer
   * gets its own keys and stream, and a new encoder run (make before break) gives it a keyframe.
   */
  async addViewer(link: ViewerLink): Promise<void> {
    if (this.viewers.has(link.name)) throw new Error(`${link.name} already watches this stream`);
    const viewer: Viewer = {
      link, latencies: [], allLatencies: [], decoded: 0, decodedThisSecond: 0, unreadable: 0, unreadableThisSecond: 0, firstFrameAt: null, floorMs: null, window: [], perSecond: [],
      linkWindow: [], linkSecond: null, rtpTotals: { fecRecovered: 0, nackRecovered: 0, framesLost: 0, keyframeRequests: 0, cleanPictureMsMax: null },
      rtpStreamId: randomUUID(),
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
    if (this.rtp) {
      try {
        await this.openRtpViewer(viewer);
      } catch (error) {
        const reason = `${link.name} could not open its receiver: ${(error as Error).message}`;
        if (this.viewers.size === 1) await this.finish('failed', reason);
        else await this.removeViewer(link.name, reason);
        return;
      }
      // the stream goes on for the others; a new encoder run gives the newcomer a keyframe to start from
      if (this.runs.size > 0) this.requestKeyframe(true);
      else await this.launch();
      return;
    }
    await this.launch();
  }

  /** rtp: fresh keys for this viewer (inside the mutual-TLS control channel), its receiver, our sender to it. */
  private async openRtpViewer(viewer: Viewer): Promise<void> {
    const codec = ENCODER_CODEC[this.encoder];
    if (codec === 'av1') throw new Error('the rtp transport carries H.264 and HEVC only here: use srt for AV1');
    // a viewer that carries RTP itself (WebRTC): our payloads go to its sender, its key-frame requests to us
    if (viewer.link.rtpSink) {
      const sink = await viewer.link.rtpSink({
        streamId: viewer.rtpStreamId, transport: 'rtp', latencyMs: 0, codec, width: this.settings.source.width, height: this.settings.source.height, fps: this.settings.fps,
      });
      sink.on('keyframe', () => this.requestKeyframe(false));
      this.rtp!.addViewer(viewer.link.name, sink);
      return;
    }
    const keys = newRtpKeys();
    const where = await viewer.link.open({
      streamId: viewer.rtpStreamId, transport: 'rtp', rtpKeys: keysToWire(keys), latencyMs: 0, codec,
      width: this.settings.source.width, height: this.settings.source.height, fps: this.settings.fps,
    });
    const sender = new RtpPeerSender({ host: where.host, port: where.port }, keys, MEDIA_PAYLOAD_TYPE[codec]);
    await sender.start();
    sender.on('keyframe', () => this.requestKeyframe(false));
    this.rtp!.addViewer(viewer.link.name, sender);
  }

  /** rtp: a viewer lost a frame it could not repair: a new encoder run starts with an IDR (make before break). */
  private requestKeyframe(force: boolean): void {
    if (!this.rtp || this.ended) return;
    const now = Date.now();
    if (!force && (this.rtp.switching || now - this.lastKeyframeAt < KEYFRAME_MIN_INTERVAL_MS)) return;
    this.lastKeyframeAt = now;
    this.keyframesSent += 1;
    void this.launch();
  }

  private onLinkStats(viewer: Viewer, stats: LinkStats): void {
    viewer.linkWindow.push({ received: stats.received, lost: stats.lost });
    if (viewer.linkWindow.length > LOSS_WINDOW_SECONDS) viewer.linkWindow.shift();
    viewer.linkSecond = stats;
    const totals = viewer.rtpTotals;
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
    this.detach(viewer);
    await viewer.link.close(this.rtp ? viewer.rtpStreamId : this.streamId, reason).catch(() => undefined);
    // passive viewers (thumbnails) do not keep a session going on their own
    if ([...this.viewers.values()].every((v) => v.link.passive)) await this.finish('stopped', reason);
    else if (!this.rtp) await this.launch(); // srt: the tee loses an output; rtp: the others' streams go on
  }

  private detach(viewer: Viewer): void {
    viewer.link.off('frames', viewer.onFrames);
    viewer.link.off('link-stats', viewer.onLinkStats);
    viewer.link.off('gone', viewer.onGone);
    this.rtp?.removeViewer(viewer.link.name)?.close();
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
  totals(): { framesDecoded: number; unreadable: number; latency: ReturnType<typeof summarize>; cpuPercent: number | null; fpsReceived: number; rtp: RtpTotals } {
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
      rtp: all.reduce<RtpTotals>(
        (sum, v) => ({
          fecRecovered: sum.fecRecovered + v.rtpTotals.fecRecovered,
          nackRecovered: sum.nackRecovered + v.rtpTotals.nackRecovered,
          framesLost: sum.framesLost + v.rtpTotals.framesLost,
          keyframeRequests: sum.keyframeRequests + v.rtpTotals.keyframeRequests,
          cleanPictureMsMax: v.rtpTotals.cleanPictureMsMax === null ? sum.cleanPictureMsMax : Math.max(sum.cleanPictureMsMax ?? 0, v.rtpTotals.cleanPictureMsMax),
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
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    const standby = this.standby;
    this.standby = null;
    await Promise.all([this.sender?.stop(), standby?.process.stop(AT_GATE_GRACE_MS), ...[...this.runs.values()].map((run) => run.stop()), ...this.retiring]);
    this.sender = null;
    this.runs.clear();
    // the viewers' last batches of decoded frames are still on their way
    if (hadSender && state === 'stopped') await new Promise((resolve) => setTimeout(resolve, 300));
    for (const [name] of this.viewers) {
      const viewer = this.viewers.get(name)!;
      this.detach(viewer);
      await viewer.link.close(this.rtp ? viewer.rtpStreamId : this.streamId, reason).catch(() => undefined);
    }
    this.rtp?.close();
    this.emit('ended', reason);
  }

  /** Starts an encoder run: srt reopens every viewer's listener first; rtp keeps the viewers' streams. */
  private async launch(): Promise<void> {
    if (this.ended) return;
    if (this.rtp) await this.launchRtp(this.rtp);
    else await this.launchSrt();
  }

  /**
   * rtp: a new encoder run towards a fresh loopback port of the RtpOutput; it takes over from the
   * running one at its first frame (an IDR), which is then stopped, so viewers see no gap.
   */
  private async launchRtp(rtp: RtpOutput): Promise<void> {
    const generation = ++this.generation;
    const standby = this.takeStandby();
    if (standby) {
      rtp.arm(standby.sourceId);
      this.supersedeWaitingRuns(rtp, standby.sourceId);
      this.trackRun(rtp, standby.sourceId, this.spawnEncoder([], generation, standby.process));
      standby.process.child.stdio[3]?.on('error', () => undefined);
      (standby.process.child.stdio[3] as NodeJS.WritableStream | null)?.end(Buffer.alloc(64));
      this.scheduleStandby();
      return;
    }
    const source = await rtp.openSource();
    if (generation !== this.generation) {
      rtp.dropSource(source.id);
      return;
    }
    this.supersedeWaitingRuns(rtp, source.id);
    let args: string[];
    try {
      args = buildSenderArgs({ ...this.settings, encoder: this.encoder, bitrateKbps: this.bitrate.current, rtpPort: source.port, rtpFromPort: source.fromPort });
    } catch (error) {
      rtp.dropSource(source.id);
      await this.finish('failed', (error as Error).message);
      return;
    }
    this.trackRun(rtp, source.id, this.spawnEncoder(args, generation));
    this.scheduleStandby();
  }

  /** An encoder run feeding this RtpOutput source: when it exits, its port and its place in `runs` go. */
  private trackRun(rtp: RtpOutput, sourceId: number, run: SupervisedSpawn): void {
    this.runs.set(sourceId, run);
    void run.exited.then(() => {
      rtp.dropSource(sourceId);
      if (this.runs.get(sourceId) === run) this.runs.delete(sourceId);
    });
  }

  /** A run still waiting to take over is superseded by the newest one (arming that dropped its port). */
  private supersedeWaitingRuns(rtp: RtpOutput, newest: number): void {
    for (const [id, run] of this.runs) {
      if (id !== newest && !rtp.isActive(id)) {
        this.runs.delete(id);
        this.retire(run);
      }
    }
  }

  /** The run started ahead, if it is still alive and made for the encoder and bitrate of now. */
  private takeStandby(): { process: SupervisedSpawn; sourceId: number } | null {
    const standby = this.standby;
    this.standby = null;
    if (!standby) return null;
    if (standby.key === this.standbyKey() && standby.process.child.exitCode === null && standby.process.child.signalCode === null) return standby;
    this.rtp?.dropSource(standby.sourceId);
    this.retire(standby.process, AT_GATE_GRACE_MS);
    return null;
  }

  private retire(run: SupervisedSpawn, graceMs?: number): void {
    const stopped = run.stop(graceMs);
    this.retiring.add(stopped);
    void stopped.then(() => this.retiring.delete(stopped));
  }

  private standbyKey(): string {
    return `${this.encoder}/${this.bitrate.current}`;
  }

  /** Starts the next run ahead, a second after this one (not to compete with its start for the CPU). */
  private scheduleStandby(): void {
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    this.standbyTimer = setTimeout(() => void this.prepareStandby(), 1000);
    this.standbyTimer.unref();
  }

  private async prepareStandby(): Promise<void> {
    const rtp = this.rtp;
    if (!rtp || this.standby || this.ended) return;
    const source = await rtp.openSource(false);
    // after the wait: a bitrate step meanwhile must not leave a run keyed for one rate and made for another
    const key = this.standbyKey();
    let args: string[];
    try {
      args = buildSenderArgs({ ...this.settings, encoder: this.encoder, bitrateKbps: this.bitrate.current, rtpPort: source.port, rtpFromPort: source.fromPort, gated: true });
    } catch {
      rtp.dropSource(source.id);
      return;
    }
    if (this.standby || this.ended) {
      rtp.dropSource(source.id);
      return;
    }
    const process = spawnTied(this.settings.ffmpeg ?? 'ffmpeg', args, [this.encoderStdin, 'pipe', 'pipe', 'pipe']);
    const standby = { process, sourceId: source.id, key };
    this.standby = standby;
    void process.exited.then(() => {
      if (this.standby === standby) {
        this.standby = null;
        rtp.dropSource(source.id);
      }
    });
  }

  /** srt: (re)opens every viewer's listener with a fresh passphrase, then starts the encoder towards them. */
  private async launchSrt(): Promise<void> {
    const generation = ++this.generation;
    await this.sender?.stop();
    this.sender = null;
    this.passphrase = newPassphrase();
    // a new stream id per encoder run: late frames of the previous run are not taken for this one's
    const previous = this.streamId;
    this.streamId = randomUUID();
    for (const viewer of this.viewers.values()) await viewer.link.close(previous, 'encoder restarting').catch(() => undefined);
    for (const viewer of this.viewers.values()) {
      viewer.firstFrameAt = null;
      viewer.window = [];
      viewer.linkWindow = [];
    }
    const codec = ENCODER_CODEC[this.encoder];
    const outputs = [];
    for (const viewer of this.viewers.values()) {
      const latencyMs = this.settings.srtLatencyMs ?? srtLatencyFromRtt(viewer.link.clock().rttMs);
      try {
        const where = await viewer.link.open({
          streamId: this.streamId, transport: 'srt', passphrase: this.passphrase, latencyMs, codec,
          width: this.settings.source.width, height: this.settings.source.height, fps: this.settings.fps,
        });
        outputs.push({ host: where.host, port: where.port, passphrase: where.passphrase ?? this.passphrase, latencyMs });
      } catch (error) {
        await this.finish('failed', `${viewer.link.name} could not open its receiver: ${(error as Error).message}`);
        return;
      }
    }
    if (generation !== this.generation) return;
    this.spawnEncoder(buildSenderArgs({ ...this.settings, encoder: this.encoder, bitrateKbps: this.bitrate.current, outputs }), generation);
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
    // a run being replaced (rtp: make before break) still sends until the new one takes over: count only the newest
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
    if (!this.rtp) this.framesSent += delta;
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
      const link = this.rtp ? viewer.linkSecond : null;
      viewer.linkSecond = null;
      const second: StreamSecond = {
        t: Date.now(), viewer: name, p50Ms: summary.p50Ms, p95Ms: summary.p95Ms,
        fpsSent: progress?.fps ?? 0, fpsReceived: viewer.decodedThisSecond,
        bitrateKbps: progress?.bitrateKbps ?? null, targetKbps: this.bitrate.current,
        // rtp measures the media path itself (SR/RR), which may differ from the control channel's
        rttMs: round1(this.rtp?.viewer(name)?.rttMs ?? null) ?? viewer.link.clock().rttMs, dropped: progress?.dropped ?? 0, duplicated: progress?.duplicated ?? 0,
        unreadable: viewer.unreadableThisSecond,
        packetsLost: link ? link.lost : null,
        fecRecovered: link?.fecRecovered ?? null,
        nackRecovered: link?.nackRecovered ?? null,
        framesLost: link?.framesLost ?? null,
        keyframeRequests: link?.keyframeRequests ?? null,
        cleanPictureMs: link?.cleanPictureMs ?? null,
      };
      this.emit('second', second);
      if (this.settings.adaptive !== false && this.state === 'running' && progress && progress.fps > 0 && Date.now() - this.senderStartedAt > 3 * WARMUP_MS) {
        const sum = viewer.window.reduce((acc, w) => ({ sent: acc.sent + w.sent, good: acc.good + w.decoded - w.unreadable }), { sent: 0, good: 0 });
        // frames sent but still on their way (about one latency's worth) are not lost
        const inFlight = ((summary.p50Ms ?? 0) / 1000) * this.settings.fps + 1;
        const lossRatio = viewer.window.length === LOSS_WINDOW_SECONDS && sum.sent > 0 ? Math.max(0, (sum.sent - sum.good - inFlight) / sum.sent) : 0;
        const packets = viewer.linkWindow.reduce((acc, w) => ({ received: acc.received + w.received, lost: acc.lost + w.lost }), { received: 0, lost: 0 });
        const packetLossRatio = packets.received + packets.lost > 0 ? packets.lost / (packets.received + packets.lost) : null;
        const step = this.bitrate.observe({ lossRatio, packetLossRatio, lateRatio: this.lateRatio(viewer, second.rttMs), p95Ms: summary.p95Ms, rttMs: second.rttMs }, Date.now());
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
    // x264 and NVENC through the ffmpeg CLI cannot change rate live: restart with an IDR
    await this.launch();
  }
}

function round1(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

