import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSnapshotMeta, readSnapshotSamples, recordSamples, ReplaySource, writeSnapshotMeta, type SampleTick } from '../../../src/core/inventory/snapshot-extras';
import type { MetricsSource } from '../../../src/core/metrics/sources';
import { readOnlyHandlers } from '../../../src/core/rpc/read-only';
import type { Handlers } from '../../../src/core/rpc/handlers';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const tick = (t: number, util: number): SampleTick => ({ t, readings: [{ address: '0000:01:00.0', name: 'GPU', values: { gpuUtilPercent: util, temperatureC: null } }] });

describe('snapshot metadata and recorded samples', () => {
  it('writes and reads whose and when; an older snapshot without it reads as null, a bad one too', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gb-meta-'));
    expect(await readSnapshotMeta(dir)).toBeNull();
    await writeSnapshotMeta(dir, { host: 'ws-7', takenAt: '2026-12-01T10:00:00.000Z', version: '1.2.3' });
    expect(await readSnapshotMeta(dir)).toEqual({ host: 'ws-7', takenAt: '2026-12-01T10:00:00.000Z', version: '1.2.3' });
    await writeFile(join(dir, 'snapshot.json'), '{"host": "", "takenAt": "yesterday"}');
    expect(await readSnapshotMeta(dir)).toBeNull();
  });

  it('reads the samples a line at a time, skipping what does not parse, never more than an hour of them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gb-samples-'));
    const lines = [JSON.stringify(tick(1, 10)), '{torn', JSON.stringify({ t: 2, readings: [{ address: 'x', name: null, values: { gpuUtilPercent: 'hot' } }] }), JSON.stringify(tick(3, 30))];
    await writeFile(join(dir, 'samples.jsonl'), `${lines.join('\n')}\n`);
    expect((await readSnapshotSamples(dir)).map((s) => s.t)).toEqual([1, 3]);
    await writeFile(join(dir, 'samples.jsonl'), `${Array.from({ length: 4000 }, (_, i) => JSON.stringify(tick(i, 1))).join('\n')}\n`);
    expect(await readSnapshotSamples(dir)).toHaveLength(3600);
  });

  it('records a live source for N seconds, and replays it tick by tick, from the start again at the end', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gb-record-'));
    let reads = 0;
    const source: MetricsSource = { kind: 'custom', read: () => [{ address: '0000:01:00.0', name: 'GPU', values: { gpuUtilPercent: (reads += 1) * 10 } }], close: () => undefined };
    expect(await recordSamples(dir, source, 2)).toBe(2);
    const replay = new ReplaySource(await readSnapshotSamples(dir));
    expect([replay.read(), replay.read(), replay.read()].map((r) => r[0]!.values.gpuUtilPercent)).toEqual([10, 20, 10]);
    expect(new ReplaySource([]).read()).toEqual([]);
  }, 10_000);
});

describe('a recorded host is read-only', () => {
  it('answers reads and refuses every change, saying whose snapshot it is', async () => {
    const handlers = readOnlyHandlers({ 'inventory.get': () => 'gpus', 'passthrough.bind': () => 'bound', 'sharing.set': () => 'shared' } as unknown as Handlers, { host: 'ws-7', takenAt: '2026-12-01' });
    const call = (method: string) => (handlers as unknown as Record<string, () => unknown>)[method]!();
    expect(call('inventory.get')).toBe('gpus');
    expect(() => call('passthrough.bind')).toThrow(/snapshot of ws-7 taken 2026-12-01: it can be looked at, not changed/);
    expect(() => call('sharing.set')).toThrow(expect.objectContaining({ code: 'REFUSED' }));
  });
});
