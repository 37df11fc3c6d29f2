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
