import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { MetricValues } from '../../shared/contract/metrics';
import { parseJsonLine } from '../../shared/json-line';
import type { GpuReading, MetricsSource } from '../metrics/sources';
import type { RecordedGpu } from './inventory';
import { VERSION } from '../version';

/** `snapshot.json`: whose snapshot this is and when it was taken. */
export const SnapshotMeta = z.object({
  host: z.string().min(1).max(253),
  takenAt: z.string().datetime({ offset: true }),
  version: z.string().max(64).optional(),
  /** Where it came from, for the examples made from published captures. */
  source: z.string().max(500).optional(),
});
export type SnapshotMeta = z.infer<typeof SnapshotMeta>;


/** One line of `samples.jsonl`: every GPU's reading at one tick. */
export const SampleTick = z
  .object({
    t: z.number(),
    readings: z.array(z.object({ address: z.string().max(32), name: z.string().max(128).nullable(), values: MetricValues }).strict()).max(64),
  })
  .strict();
export type SampleTick = z.infer<typeof SampleTick>;

/** A snapshot's series is short: an hour at 1 Hz at the very most. */
const MAX_TICKS = 3600;

export async function writeSnapshotMeta(dir: string, meta: Partial<SnapshotMeta> = {}): Promise<void> {
  const full: SnapshotMeta = { host: meta.host ?? hostname(), takenAt: meta.takenAt ?? new Date().toISOString(), version: meta.version ?? VERSION, ...(meta.source ? { source: meta.source } : {}) };
  await writeFile(join(dir, 'snapshot.json'), `${JSON.stringify(full, null, 2)}\n`);
}

/** Whose and when, or null when the snapshot has no (valid) `snapshot.json` (an older one). */
export async function readSnapshotMeta(dir: string): Promise<SnapshotMeta | null> {
  const text = await readFile(join(dir, 'snapshot.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  return parseJsonLine(SnapshotMeta, text.replace(/\n/g, ' '));
}

/** The recorded samples, oldest first; lines that do not parse are skipped, never fatal. */
export async function readSnapshotSamples(dir: string): Promise<SampleTick[]> {
  const text = await readFile(join(dir, 'samples.jsonl'), 'utf8').catch(() => '');
  const ticks: SampleTick[] = [];
  for (const line of text.split('\n')) {
    if (ticks.length >= MAX_TICKS) break;
    const tick = line.trim() ? parseJsonLine(SampleTick, line) : null;
    if (tick) ticks.push(tick);
  }
  return ticks;
}

/** What the samples say of each GPU: its name and memory, the latest a reading gave (the inventory's fallback). */
export function recordedGpus(ticks: readonly SampleTick[]): Map<string, RecordedGpu> {
  const gpus = new Map<string, RecordedGpu>();
  for (const tick of ticks) {
    for (const r of tick.readings) {
      const seen = gpus.get(r.address);
      gpus.set(r.address, { name: r.name ?? seen?.name ?? null, memoryTotalBytes: r.values.memoryTotalBytes ?? seen?.memoryTotalBytes ?? null });
    }
  }
  return gpus;
}

/** Records `seconds` ticks of a live metrics source into `samples.jsonl` (one a second). */
export async function recordSamples(dir: string, source: MetricsSource, seconds: number, onTick?: (index: number) => void): Promise<number> {
  await source.start?.(1000);
  const lines: string[] = [];
  try {
    for (let i = 0; i < seconds; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const readings = await source.read();
      lines.push(JSON.stringify({ t: Date.now(), readings: readings.map((r) => ({ address: r.address, name: r.name, values: r.values })) }));
      onTick?.(i + 1);
    }
  } finally {
    await source.close();
  }
  await writeFile(join(dir, 'samples.jsonl'), lines.length > 0 ? `${lines.join('\n')}\n` : '');
  return lines.length;
}

/**
 * A metrics source that plays a snapshot's recorded samples again, one tick per read, from the start
 * when it reaches the end: the Dashboard of a recorded host.
 */
export class ReplaySource implements MetricsSource {
  readonly kind = 'replay' as const;
  private next = 0;

  constructor(private readonly ticks: readonly SampleTick[]) {}

  read(): GpuReading[] {
    if (this.ticks.length === 0) return [];
    const tick = this.ticks[this.next % this.ticks.length]!;
    this.next += 1;
    return tick.readings.map((r) => ({ address: r.address, name: r.name, values: r.values }));
  }

  close(): void {}
}
