import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where each 10 ms frame of sound was when, for bench/latency's split of capture-to-heard: kept only where
 * GPU_BRIDGE_AUDIO_STAGES names a folder, and appended there once a second as JSON lines, one file per
 * process and side (`host-<pid>.jsonl`: capturedAt and when the frame was read, encoded, sent;
 * `peer-<pid>.jsonl`: hostMs and when it was received, taken out of the jitter buffer, written to the sink,
 * with the playout's target delay then). All times on this machine's clock (preciseNow), which host and
 * peer share in the bench.
 */
export type StageRow = Record<string, number | null>;

/** Rows kept between flushes at most (a bench's second is 100 frames; more means the flush fell behind). */
const MAX_PENDING = 2000;

export class AudioStages {
  private pending: StageRow[] = [];
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly file: string) {
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  /** A recorder for `side` when GPU_BRIDGE_AUDIO_STAGES is set, else null (the usual case: nothing kept). */
  static fromEnv(side: 'host' | 'peer', env: NodeJS.ProcessEnv = process.env): AudioStages | null {
    const dir = env.GPU_BRIDGE_AUDIO_STAGES;
    return dir ? new AudioStages(join(dir, `${side}-${process.pid}.jsonl`)) : null;
  }

  row(row: StageRow): void {
    if (this.pending.length < MAX_PENDING) this.pending.push(row);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    try {
      appendFileSync(this.file, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    } catch {
      // a diagnostic only: a folder that went away costs the split, never the sound
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Where the peer's row of a frame reads what it says besides its times: the sink, the feeder and the playout. */
export interface PeerStageSources {
  sink: { readonly queuedBytes: number | null; readonly framesDropped: number };
  feeder: { readonly stale: number };
  playout: { readonly targetDelay: number | null };
  delay: { readonly ownDelay: number | null; readonly videoDelay: number | null };
}

/**
 * The peer's side of the split, for either transport's sound receiver: when each frame first arrived (by
 * its host ms), and its row once it is written to the sink.
 */
export class PeerStages {
  private readonly arrivals = new Map<number, number>();

  private constructor(private readonly stages: AudioStages) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): PeerStages | null {
    const stages = AudioStages.fromEnv('peer', env);
    return stages ? new PeerStages(stages) : null;
  }

  /** A frame's packet came the first time (a resend says nothing of the path). */
  arrived(hostMs: number, now: number): void {
    // frames never played (late, skipped) leave theirs behind
    if (this.arrivals.size >= 1000) this.arrivals.clear();
    this.arrivals.set(Math.round(hostMs), now);
  }

  /** A frame taken out of the jitter buffer at `out` (due at `frame.at`) was written to the sink at `written`. */
  written(frame: { hostMs: number; at: number; source: string }, out: number, written: number, { sink, feeder, playout, delay }: PeerStageSources): void {
    const key = Math.round(frame.hostMs);
    const received = this.arrivals.get(key) ?? null;
    this.arrivals.delete(key);
    this.stages.row({
      hostMs: frame.hostMs, received, due: frame.at, out, written,
      queued: sink.queuedBytes, dropped: sink.framesDropped, stale: feeder.stale, target: playout.targetDelay, own: delay.ownDelay, video: delay.videoDelay,
      concealed: frame.source === 'concealed' ? 1 : 0,
    });
  }

  close(): void {
    this.stages.close();
  }
}
