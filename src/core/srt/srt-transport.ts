import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { TRANSPORTS } from '../../shared/transports';
import type { SessionAudio } from '../audio/session-audio';
import type { EncoderRuns, SenderTransport, ViewerChange } from '../sessions/sender-transport';
import { openAskingSound } from '../sessions/open-asking-sound';
import { loadSrt } from './srt-native';
import { SrtMuxedOutput } from './srt-muxed-output';
import { newPassphrase, srtLatencyFromRtt, type SrtEndpoint } from './srt-url';

/**
 * The host's srt transport for one session: ffmpeg itself calls every viewer's SRT listener (its tee
 * muxer, one output per viewer), so each encoder run reopens every listener under a fresh passphrase
 * and stream id, and a viewer joining or leaving restarts the encoder. With the session's sound, we
 * call the listeners ourselves instead (SrtMuxedOutput: the encoder's TS and the sound's Opus in one
 * stream); where libsrt cannot be loaded here or a viewer is not on IPv4, ffmpeg calls and the session
 * runs without sound (`audio.why` says so).
 */
export class SrtTransport extends EventEmitter implements SenderTransport {
  readonly name = 'srt';
  readonly caps = TRANSPORTS.srt;
  readonly countsFrames = false;

  framesSent(): number {
    return 0;
  }
  readonly switching = false;
  /** The current encoder run's stream id (viewers' listeners are opened per run). */
  private currentStreamId: string = randomUUID();

  /** The current run's own output, when it carries the sound. */
  private output: SrtMuxedOutput | null = null;

  /** @param latencyMs SRT latency; default: from each viewer's measured RTT. */
  constructor(
    private readonly latencyMs?: number,
    private readonly audio: SessionAudio | null = null,
  ) {
    super();
  }

  async addViewer(): Promise<ViewerChange> {
    // its listener opens with the next run, which adds it to the tee
    return 'launch';
  }

  removeViewer(): { streamId: string; then: ViewerChange } {
    return { streamId: this.currentStreamId, then: 'launch' };
  }

  streamId(): string {
    return this.currentStreamId;
  }

  rttMs(): number | null {
    return null;
  }

  fecRatio(): number | null {
    return null;
  }

  /** srt adds no FEC. */
  linkQueue(): void {}

  /** ffmpeg sends: the next encoder run carries the new bitrate. */
  setTargetKbps(): void {}

  /** (Re)opens every viewer's listener with a fresh passphrase, then starts the encoder towards them. */
  async launch(runs: EncoderRuns, generation: number): Promise<void> {
    await runs.stopCurrent();
    this.output?.close();
    this.output = null;
    const passphrase = newPassphrase();
    // a new stream id per encoder run: late frames of the previous run are not taken for this one's
    const previous = this.currentStreamId;
    this.currentStreamId = randomUUID();
    const streamId = this.currentStreamId;
    for (const viewer of runs.viewers()) await viewer.close(previous, 'encoder restarting').catch(() => undefined);
    runs.streamsReopened();
    const { codec, width, height, fps } = runs.shape;
    const srt = this.audio?.on ? loadSrt() : null;
    if (this.audio?.on && !srt) this.audio.why = 'libsrt cannot be loaded here (Debian: libsrt1.5-gnutls): over srt the session runs without sound';
    const sound = srt !== null;
    const outputs: SrtEndpoint[] = [];
    for (const viewer of runs.viewers()) {
      const latencyMs = this.latencyMs ?? srtLatencyFromRtt(viewer.clock().rttMs);
      try {
        const where = await openAskingSound(viewer, { streamId, transport: 'srt', passphrase, latencyMs, codec, width, height, fps, ...(sound ? { audio: true } : {}) });
        // set only where sound was asked for: the viewer's word, or ours for an older peer
        this.audio?.note(viewer.name, where.audioWhy ?? null);
        outputs.push({ host: where.host, port: where.port, passphrase: where.passphrase ?? passphrase, latencyMs });
      } catch (error) {
        await runs.fail(`${viewer.name} could not open its receiver: ${(error as Error).message}`);
        return;
      }
    }
    if (!runs.isCurrent(generation)) return;
    let tsPort: number | undefined;
    if (sound) {
      const output = new SrtMuxedOutput(srt);
      this.output = output;
      try {
        tsPort = await output.open();
        for (const endpoint of outputs) await output.call(endpoint);
      } catch (error) {
        output.close();
        await runs.fail(`could not call the viewer's SRT listener: ${(error as Error).message}`);
        return;
      }
      if (!runs.isCurrent(generation) || this.output !== output) return output.close();
      output.carrySound((listener) => this.audio!.onPacket(listener));
    }
    let args: string[];
    try {
      args = runs.args(tsPort === undefined ? { outputs } : { tsPort });
    } catch (error) {
      await runs.fail((error as Error).message);
      return;
    }
    runs.spawn(args, generation);
  }

  stopRuns(): Promise<void>[] {
    return [];
  }

  close(): void {
    this.output?.close();
    this.output = null;
  }
}
