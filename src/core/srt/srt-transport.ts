import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { TRANSPORTS } from '../../shared/transports';
import type { EncoderRuns, SenderTransport, ViewerChange } from '../sessions/sender-transport';
import { newPassphrase, srtLatencyFromRtt, type SrtEndpoint } from './srt-url';

/**
 * The host's srt transport for one session: ffmpeg itself calls every viewer's SRT listener (its tee
 * muxer, one output per viewer), so each encoder run reopens every listener under a fresh passphrase
 * and stream id, and a viewer joining or leaving restarts the encoder.
 */
export class SrtTransport extends EventEmitter implements SenderTransport {
  readonly name = 'srt';
  readonly caps = TRANSPORTS.srt;
  readonly countsFrames = false;
  readonly switching = false;
  /** The current encoder run's stream id (viewers' listeners are opened per run). */
  private currentStreamId: string = randomUUID();

  /** @param latencyMs SRT latency; default: from each viewer's measured RTT. */
  constructor(private readonly latencyMs?: number) {
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
    const passphrase = newPassphrase();
    // a new stream id per encoder run: late frames of the previous run are not taken for this one's
    const previous = this.currentStreamId;
    this.currentStreamId = randomUUID();
    const streamId = this.currentStreamId;
    for (const viewer of runs.viewers()) await viewer.close(previous, 'encoder restarting').catch(() => undefined);
    runs.streamsReopened();
    const { codec, width, height, fps } = runs.shape;
    const outputs: SrtEndpoint[] = [];
    for (const viewer of runs.viewers()) {
      const latencyMs = this.latencyMs ?? srtLatencyFromRtt(viewer.clock().rttMs);
      try {
        const where = await viewer.open({ streamId, transport: 'srt', passphrase, latencyMs, codec, width, height, fps });
        outputs.push({ host: where.host, port: where.port, passphrase: where.passphrase ?? passphrase, latencyMs });
      } catch (error) {
        await runs.fail(`${viewer.name} could not open its receiver: ${(error as Error).message}`);
        return;
      }
    }
    if (!runs.isCurrent(generation)) return;
    let args: string[];
    try {
      args = runs.args({ outputs });
    } catch (error) {
      await runs.fail((error as Error).message);
      return;
    }
    runs.spawn(args, generation);
  }

  stopRuns(): Promise<void>[] {
    return [];
  }

  close(): void {}
}
