import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInventory } from '../../../src/core/inventory/inventory';
import { snapshotCapabilities } from '../../../src/core/app/capabilities';
import { writeSnapshotDir } from '../../../src/core/inventory/snapshot';
import { readSnapshotMeta, readSnapshotSamples, recordedGpus, writeSnapshotMeta, type SampleTick } from '../../../src/core/inventory/snapshot-extras';
import { parseQueryGpuCsv } from '../../../src/core/metrics/nvidia-smi-csv';
import type { MetricValues } from '../../../src/shared/contract/metrics';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';
import { B550, fixtureDevices } from '../passthrough/fixture-host';

/**
 * The example snapshots in resources/snapshots/ (`gpu-bridge serve --from resources/snapshots/NAME`), made
 * here from the real captures in tests/fixtures: the test makes them again and requires the shipped ones
 * to be the same, file for file. GPU_BRIDGE_WRITE_EXAMPLES=1 writes them instead (after a fixture or
 * format change).
 */
const REPO = join(__dirname, '..', '..', '..');
const SHIPPED = join(REPO, 'resources', 'snapshots');
const FIXTURES = join(REPO, 'tests', 'fixtures');
const L40S_CAPTURE = join(FIXTURES, 'nvidia-smi-captures', 'linux-x86_64__nvidia-l40s__595.80.txt');
const L40S_CSV = (phase: 'idle' | 'load') => join(FIXTURES, 'nvidia-smi-csv', `utkuozdemir__linux-x86_64__nvidia-l40s__595.80.${phase}-query-gpu.csv`);
const temps: string[] = [];

afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gb-example-'));
  temps.push(dir);
  return dir;
}

/** A live-looking tree from the fixture, then the real snapshot writer over it, as `gpu-bridge snapshot --root` does. */
async function snapshotOf(spec: Parameters<typeof buildFakeSysfs>[1], out: string): Promise<void> {
  const tree = await temp();
  await buildFakeSysfs(tree, spec);
  await writeSnapshotDir(out, { root: tree, runCommands: false });
}

/** MSI MAG B550M MORTAR with an RTX 2070 SUPER and a GT 710: the IOMMU groups a user published. */
async function b550(out: string): Promise<void> {
  // groups exist only with the IOMMU on: on this AMD board the firmware table is IVRS
  await snapshotOf({ devices: await fixtureDevices(B550), acpiTables: ['IVRS'] }, out);
  await writeSnapshotMeta(out, {
    host: 'MSI MAG B550M MORTAR, RTX 2070 SUPER + GT 710',
    takenAt: '2026-12-01T00:00:00.000Z',
    version: 'example',
    source: 'the IOMMU groups published in 64kramsystem/vga-passthrough (9_SAMPLE_IOMMU_GROUPS.md, CC BY-SA 4.0); no GPU samples',
  });
}

/** `nvidia-smi dmon` rows of one phase of the capture: one tick a second. */
function dmonRows(capture: string, phase: 'idle' | 'load'): number[][] {
  const start = capture.indexOf(`# ${phase} :: dmon`);
  const rows: number[][] = [];
  for (const line of capture.slice(start).split('\n').slice(5)) {
    if (!/^\s+\d/.test(line)) break;
    rows.push(line.trim().split(/\s+/).map((cell) => (cell === '-' ? Number.NaN : Number(cell))));
  }
  return rows;
}

/** An L40S under NVENC load (two 1080p120 encodes), from nvidia_gpu_exporter's published capture. */
async function l40s(out: string): Promise<void> {
  await snapshotOf({ devices: [{ address: '0000:01:00.0', vendor: '10de', device: '26b9', class: '030200', subsystemVendor: '10de', subsystemDevice: '1851', driver: 'nvidia' }] }, out);
  const capture = await readFile(L40S_CAPTURE, 'utf8');
  const collectedAt = /^collected_at:\s+(\S+)$/m.exec(capture)![1]!;
  const ticks: SampleTick[] = [];
  for (const phase of ['idle', 'load'] as const) {
    const [row] = parseQueryGpuCsv(await readFile(L40S_CSV(phase), 'utf8'));
    for (const [gpu, pwr, gtemp, , sm, mem, enc, dec, , , mclk, pclk] of dmonRows(capture, phase)) {
      const values: MetricValues = {
        ...row!.values,
        powerW: pwr!, temperatureC: gtemp!, gpuUtilPercent: sm!, memoryUtilPercent: mem!, encoderUtilPercent: enc!, decoderUtilPercent: dec!, memoryClockMHz: mclk!, graphicsClockMHz: pclk!,
      };
      expect(gpu).toBe(0);
      ticks.push({ t: Date.parse(collectedAt) + ticks.length * 1000, readings: [{ address: row!.address!, name: row!.name, values }] });
    }
  }
  await writeFile(join(out, 'samples.jsonl'), `${ticks.map((tick) => JSON.stringify(tick)).join('\n')}\n`);
  await writeSnapshotMeta(out, {
    host: 'NVIDIA L40S cloud server, Fedora 44',
    takenAt: collectedAt,
    version: 'example',
    source: 'nvidia_gpu_exporter\'s capture linux-x86_64__nvidia-l40s__595.80 (MIT): 5 s idle, then 5 s of two NVENC encodes',
  });
}

const EXAMPLES: Record<string, (out: string) => Promise<void>> = { 'b550-rtx2070super-gt710': b550, 'l40s-nvenc': l40s };

/** Every file (content) and link (target) of a tree, by relative path. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const stat = await lstat(path);
      if (stat.isSymbolicLink()) out[relative(root, path)] = `-> ${await readlink(path)}`;
      else if (stat.isDirectory()) await walk(path);
      else out[relative(root, path)] = await readFile(path, 'utf8');
    }
  };
  await walk(root);
  return out;
}

describe('the example snapshots shipped in resources/snapshots', () => {
  for (const [name, make] of Object.entries(EXAMPLES)) {
    it(`${name} is made from the fixtures, and serve --from reads it: whose, when, its GPUs and samples`, async () => {
      const made = await temp();
      await make(join(made, name));
      if (process.env.GPU_BRIDGE_WRITE_EXAMPLES === '1') {
        await rm(join(SHIPPED, name), { recursive: true, force: true });
        await make(join(SHIPPED, name));
      }
      expect(await tree(join(SHIPPED, name))).toEqual(await tree(join(made, name)));
      const meta = await readSnapshotMeta(join(SHIPPED, name));
      expect(meta?.host).toBeTruthy();
      const inventory = await buildInventory({ root: join(SHIPPED, name), live: false });
      expect(inventory.gpus.length).toBeGreaterThan(0);
      const samples = await readSnapshotSamples(join(SHIPPED, name));
      if (name === 'l40s-nvenc') {
        expect(samples).toHaveLength(10);
        expect(samples.at(-1)!.readings[0]!.values.encoderUtilPercent).toBeGreaterThan(50);
        expect(inventory.gpus[0]!.address).toBe(samples[0]!.readings[0]!.address);
        // no nvidia-smi output in it: the card's name and memory come from what its samples recorded
        const named = await buildInventory({ root: join(SHIPPED, name), live: false, recorded: recordedGpus(samples) });
        expect(named.gpus[0]).toMatchObject({ name: 'NVIDIA L40S', memoryTotalBytes: 48305799168 });
        expect(named.gpus[0]!.sources).toContain('samples');
        expect(await snapshotCapabilities(join(SHIPPED, name))).toMatchObject({ ffmpeg: false, nvidiaSmi: false, notRecorded: ['nvidia', 'ffmpeg'] });
      } else {
        expect(samples).toEqual([]);
        expect(inventory.gpus.map((gpu) => gpu.address).sort()).toEqual(['0000:04:00.0', '0000:2b:00.0']);
        // no pci.ids in it: served, its GPUs are named from this machine's database where it has one
        if (existsSync('/usr/share/misc/pci.ids')) {
          const named = await buildInventory({ root: join(SHIPPED, name), live: false, pciIdsFromThisMachine: true });
          expect(named.gpus.map((gpu) => gpu.name)).toEqual([expect.stringMatching(/GT 710/), expect.stringMatching(/RTX 2070 SUPER/)]);
        }
      }
    });
  }
});
