// bench/latency's sound case: capture-to-heard split by stage, from the rows the host and the peer keep
// where GPU_BRIDGE_AUDIO_STAGES names a folder (src/core/audio/audio-stages.ts). Each stage is the p50 of
// (time the frame reached it) − (its capture time), over the frames captured while the clicks played; the
// last stage, heard, is per click: the peer's onset against the time the click's frame was written to
// the peer's output. Host and peer run on this machine: one clock.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize } from '../src/core/sessions/quantiles';

export interface StageSplit {
  /** Cumulative p50 (ms after capture) at each stage, in the path's order. */
  stages: Array<{ name: string; p50Ms: number | null; what: string }>;
  /** The playout's own delay (transit floor + jitter room) and the target it played at (p50, ms): the difference is the wait for the picture. */
  ownP50Ms: number | null;
  /** Per click, heard minus written (p50, ms): the output's stream, the peer's server, and the host capture's buffering the stamps cannot see. */
  sinkP50Ms: number | null;
  targetP50Ms: number | null;
  /** The picture's capture → decoded (p50, ms) as the peer measured it for lip sync. */
  videoP50Ms: number | null;
  frames: number;
  /** Bytes the output held when a frame was written (the libpulse stream's level; with pacat, what waits in front of it; p50, p95). */
  queuedP50: number | null;
  queuedP95: number | null;
  /** Frames the sink dropped (its target coming down, or pacat not keeping up) and the receiver did not write (past their time), in the window. */
  dropped: number;
  stale: number;
}

type Row = Record<string, number | null>;

function rows(dir: string, side: 'host' | 'peer'): Row[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(`${side}-`))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Row));
}

function p50(values: number[]): number | null {
  return summarize(values).p50Ms;
}

/** `from`/`to`: the window clicks were played in (host ms); `clicks`: each heard click's host onset and latency. */
export function stageSplit(dir: string, window: { from: number; to: number }, clicks: Array<{ at: number; ms: number }>): StageSplit {
  const host = rows(dir, 'host').filter((row) => row.capturedAt! >= window.from && row.capturedAt! <= window.to);
  const peer = rows(dir, 'peer').filter((row) => row.hostMs! >= window.from && row.hostMs! <= window.to);
  const since = (list: Row[], key: string, base: string) => p50(list.flatMap((row) => (row[key] == null ? [] : [row[key]! - row[base]!])));
  // heard: a click's peer onset minus when the frame holding it was written (plus where in that frame it is)
  const sorted = [...peer].sort((a, b) => a.hostMs! - b.hostMs!);
  const heard = clicks.flatMap(({ at, ms }) => {
    const frame = sorted.filter((row) => row.hostMs! <= at + 0.5).at(-1);
    if (!frame || at - frame.hostMs! > 10.5) return [];
    return [{ sink: at + ms - (frame.written! + (at - frame.hostMs!)), total: ms }];
  });
  return {
    stages: [
      { name: 'read', p50Ms: since(host, 'read', 'capturedAt'), what: 'parec chunk read (the capture clock is anchored at reads: the server\'s own buffering before them is not seen here)' },
      { name: 'encoded', p50Ms: since(host, 'encoded', 'capturedAt'), what: 'Opus encode done' },
      { name: 'sent', p50Ms: since(host, 'sent', 'capturedAt'), what: 'encrypted, handed to the socket' },
      { name: 'received', p50Ms: since(peer, 'received', 'hostMs'), what: 'authenticated at the peer' },
      { name: 'due', p50Ms: since(peer, 'due', 'hostMs'), what: 'its turn in the jitter buffer (the target delay)' },
      { name: 'out', p50Ms: since(peer, 'out', 'hostMs'), what: 'taken out by the playout (its timer, or the late packet it waited for)' },
      { name: 'written', p50Ms: since(peer, 'written', 'hostMs'), what: 'decoded, written to the output' },
      { name: 'heard', p50Ms: p50(heard.map((h) => h.total)), what: `in the peer's output (the clicks: ${heard.length})` },
    ],
    sinkP50Ms: p50(heard.map((h) => h.sink)),
    ownP50Ms: p50(peer.flatMap((row) => (row.own == null ? [] : [row.own]))),
    targetP50Ms: p50(peer.flatMap((row) => (row.target == null ? [] : [row.target]))),
    videoP50Ms: p50(peer.flatMap((row) => (row.video == null ? [] : [row.video]))),
    frames: peer.length,
    ...(() => {
      const queued = summarize(peer.flatMap((row) => (row.queued == null ? [] : [row.queued])));
      const spread = (key: string) => (peer.length === 0 ? 0 : Math.round(Math.max(...peer.map((row) => row[key] ?? 0)) - Math.min(...peer.map((row) => row[key] ?? 0))));
      return { queuedP50: queued.p50Ms, queuedP95: queued.p95Ms, dropped: spread('dropped'), stale: spread('stale') };
    })(),
  };
}
