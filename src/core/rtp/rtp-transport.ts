import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { TRANSPORTS } from '../../shared/transports';
import type { SessionAudio } from '../audio/session-audio';
import { openAskingSound } from '../sessions/open-asking-sound';
import type { SupervisedSpawn } from '../sessions/child-process';
import type { EncoderRuns, SenderTransport, ViewerChange } from '../sessions/sender-transport';
import type { ViewerLink } from '../sessions/viewer-link';
import { keysToWire, MEDIA_PAYLOAD_TYPE, newRtpKeys } from './rtp-keys';
import { nativeRtp } from './native-rtp-lib';
import { NativeRtpOutput } from './native-sender';
import { RtpOutput, type RtpFanOut, type RtpViewerSender } from './rtp-output';

/**
 * The fan-out on the sender's native data plane where it is built and loads (native-rtp-lib.ts), else in
 * JavaScript; GPU_BRIDGE_RTP_TRACE (the per-packet decision trace, written by the JavaScript sender) and
 * GPU_BRIDGE_RTP_NATIVE=off choose the JavaScript one.
 */
function openFanOut(env: NodeJS.ProcessEnv = process.env): RtpFanOut {
  const lib = env.GPU_BRIDGE_RTP_TRACE ? null : nativeRtp();
  if (lib && typeof lib !== 'string') {
    try {
      return new NativeRtpOutput(lib);
    } catch {
      // no thread, pipe or epoll to be had: the JavaScript fan-out does the same work
    }
  }
  return new RtpOutput();
}

/**
 * A run still at its gate blocks reading fd 3, where ffmpeg restarts the read after SIGTERM (it would
 * live until the SIGKILL two seconds later); it has sent nothing, so it is killed at once.
 */
const AT_GATE_GRACE_MS = 0;

/**
 * The host's rtp transport for one session: each viewer gets its own keys, receiver and encrypted
 * stream for the whole session (RtpPeerSender); encoder runs send to loopback sources of our fan-out
 * (RtpOutput), a new one taking over at its first frame (make before break), and the next run waits
 * ahead at its gate so a keyframe on request starts fast. With the session's sound (`audio`), each
 * viewer also gets an Opus stream under keys derived from its own (src/core/audio).
 */
export class RtpTransport extends EventEmitter implements SenderTransport {
  readonly name = 'rtp';
  readonly caps = TRANSPORTS.rtp;
  readonly countsFrames = true;
  private readonly output: RtpFanOut;
  /** Each viewer's stream id for the whole session (its receiver stays across encoder runs). */
  private readonly streamIds = new Map<string, string>();
  /** Encoder runs by their RtpOutput source; the newest takes over at its first frame. */
  private readonly runs = new Map<number, SupervisedSpawn>();
  /** The next run, started ahead and held at its gate, for one encoder and bitrate (its key). */
  private standby: { process: SupervisedSpawn; sourceId: number; key: string } | null = null;
  private standbyTimer: NodeJS.Timeout | null = null;
  private runsFor: EncoderRuns | null = null;
  private closed = false;

  constructor(private readonly audio: SessionAudio | null = null) {
    super();
    this.output = openFanOut();
    this.output.on('switched', (oldId: number | null) => {
      const old = oldId === null ? undefined : this.runs.get(oldId);
      if (oldId !== null) this.runs.delete(oldId);
      if (old) this.runsFor?.retire(old);
    });
  }

  framesSent(): number {
    return this.output.framesSent;
  }

  get switching(): boolean {
    return this.output.switching;
  }

  /**
   * Fresh keys for this viewer (inside the mutual-TLS control channel), its receiver, our sender to it;
   * or, for a viewer that carries RTP itself (a browser over WebRTC: `link.rtpSink`), its own sender.
   */
  async addViewer(link: ViewerLink, runs: EncoderRuns): Promise<ViewerChange> {
    this.runsFor = runs;
    if (runs.shape.codec === 'av1') throw new Error('the rtp transport does not carry AV1: use srt');
    const streamId = randomUUID();
    this.streamIds.set(link.name, streamId);
    // the session may have ended, or the viewer left, while its receiver opened: open no socket for it
    const stale = () => this.closed || this.streamIds.get(link.name) !== streamId;
    const sender = link.rtpSink ? await link.rtpSink(runs.shape) : await this.peerSender(link, streamId, runs, stale);
    if (stale()) {
      sender.close();
      this.audio?.removeViewer(link.name);
      throw new Error('the session ended while the receiver opened');
    }
    sender.on('keyframe', () => this.emit('keyframe'));
    this.output.addViewer(link.name, sender);
    // the stream goes on for the others; a new encoder run gives the newcomer a keyframe to start from
    return this.runs.size > 0 ? 'keyframe' : 'launch';
  }

  /** Our encrypted sender to a peer's receiver, opened with fresh keys. */
  private async peerSender(link: ViewerLink, streamId: string, runs: EncoderRuns, stale: () => boolean): Promise<RtpViewerSender & EventEmitter> {
    const { codec, width, height, fps } = runs.shape;
    if (codec === 'av1') throw new Error('the rtp transport does not carry AV1: use srt');
    const keys = newRtpKeys();
    const audio = this.audio;
    const where = await openAskingSound(link, { streamId, transport: 'rtp', rtpKeys: keysToWire(keys), latencyMs: 0, codec, width, height, fps, ...(audio?.on ? { audio: true } : {}) });
    if (stale()) throw new Error('the session ended while the receiver opened');
    const sender = this.output.peerSender({ host: where.host, port: where.port }, keys, MEDIA_PAYLOAD_TYPE[codec], { targetKbps: runs.targetKbps, fps });
    await sender.start();
    // a stale viewer's sender is closed by the caller, its sound (none opened yet) needs nothing
    if (!stale()) await audio?.addViewer(link.name, where, keys);
    // (set only where sound was asked for: the viewer's word, or ours for an older peer; a viewer gone meanwhile keeps none)
    if (!stale()) audio?.note(link.name, where.audioWhy ?? null);
    return sender;
  }

  removeViewer(name: string): { streamId: string; then: ViewerChange } {
    const streamId = this.streamId(name);
    this.streamIds.delete(name);
    this.output.removeViewer(name)?.close();
    this.audio?.removeViewer(name);
    return { streamId, then: 'nothing' };
  }

  streamId(name: string): string {
    return this.streamIds.get(name) ?? randomUUID();
  }

  rttMs(name: string): number | null {
    return this.output.viewer(name)?.rttMs ?? null;
  }

  fecRatio(name: string): number | null {
    return this.output.viewer(name)?.fec?.ratio ?? null;
  }

  linkQueue(name: string, randomLoss: number | null): void {
    const fec = this.output.viewer(name)?.fec;
    if (randomLoss === null) fec?.release();
    else fec?.hold(randomLoss);
  }

  /** Each viewer's pacing follows the encoder's new target. */
  setTargetKbps(targetKbps: number, linkKbps: number | null = null): void {
    if (this.runsFor) this.output.setTargetKbps(targetKbps, this.runsFor.shape.fps, linkKbps);
  }

  /** A new encoder run towards a fresh loopback source; it takes over from the running one at its first frame (an IDR). */
  async launch(runs: EncoderRuns, generation: number): Promise<void> {
    this.runsFor = runs;
    const standby = this.takeStandby(runs);
    if (standby) {
      this.output.arm(standby.sourceId);
      this.supersedeWaitingRuns(runs, standby.sourceId);
      this.trackRun(standby.sourceId, runs.spawn([], generation, standby.process));
      standby.process.child.stdio[3]?.on('error', () => undefined);
      (standby.process.child.stdio[3] as NodeJS.WritableStream | null)?.end(Buffer.alloc(64));
      this.scheduleStandby(runs);
      return;
    }
    const source = await this.output.openSource();
    if (!runs.isCurrent(generation)) {
      this.output.dropSource(source.id);
      return;
    }
    this.supersedeWaitingRuns(runs, source.id);
    let args: string[];
    try {
      args = runs.args({ rtpPort: source.port, rtpFromPort: source.fromPort });
    } catch (error) {
      this.output.dropSource(source.id);
      await runs.fail((error as Error).message);
      return;
    }
    this.trackRun(source.id, runs.spawn(args, generation));
    this.scheduleStandby(runs);
  }

  /** An encoder run feeding this source: when it exits, its port and its place in `runs` go. */
  private trackRun(sourceId: number, run: SupervisedSpawn): void {
    this.runs.set(sourceId, run);
    void run.exited.then(() => {
      this.output.dropSource(sourceId);
      if (this.runs.get(sourceId) === run) this.runs.delete(sourceId);
    });
  }

  /** A run still waiting to take over is superseded by the newest one (arming that dropped its port). */
  private supersedeWaitingRuns(runs: EncoderRuns, newest: number): void {
    for (const [id, run] of this.runs) {
      if (id !== newest && !this.output.isActive(id)) {
        this.runs.delete(id);
        runs.retire(run);
      }
    }
  }

  /** The run started ahead, if it is still alive and made for the encoder and bitrate of now. */
  private takeStandby(runs: EncoderRuns): { process: SupervisedSpawn; sourceId: number } | null {
    const standby = this.standby;
    this.standby = null;
    if (!standby) return null;
    if (standby.key === runs.runKey() && standby.process.child.exitCode === null && standby.process.child.signalCode === null) return standby;
    this.output.dropSource(standby.sourceId);
    runs.retire(standby.process, AT_GATE_GRACE_MS);
    return null;
  }

  /** Starts the next run ahead, a second after this one (not to compete with its start for the CPU). */
  private scheduleStandby(runs: EncoderRuns): void {
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    this.standbyTimer = setTimeout(() => void this.prepareStandby(runs), 1000);
    this.standbyTimer.unref();
  }

  private async prepareStandby(runs: EncoderRuns): Promise<void> {
    if (this.standby || runs.ended) return;
    const source = await this.output.openSource(false);
    // after the wait: a bitrate step meanwhile must not leave a run keyed for one rate and made for another
    const key = runs.runKey();
    let args: string[];
    try {
      args = runs.args({ rtpPort: source.port, rtpFromPort: source.fromPort, gated: true });
    } catch {
      this.output.dropSource(source.id);
      return;
    }
    if (this.standby || runs.ended) {
      this.output.dropSource(source.id);
      return;
    }
    const process = runs.spawnAhead(args);
    const standby = { process, sourceId: source.id, key };
    this.standby = standby;
    void process.exited.then(() => {
      if (this.standby === standby) {
        this.standby = null;
        this.output.dropSource(source.id);
      }
    });
  }

  stopRuns(): Promise<void>[] {
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    const standby = this.standby;
    this.standby = null;
    const stopped = [standby?.process.stop(AT_GATE_GRACE_MS), ...[...this.runs.values()].map((run) => run.stop())].filter((p): p is Promise<void> => p !== undefined);
    this.runs.clear();
    return stopped;
  }

  close(): void {
    this.closed = true;
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    this.output.close();
  }
}
