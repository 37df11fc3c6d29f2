// `gpu-bridge snapshot` keeps each function's place in the bridge tree: on a live host
// /sys/bus/pci/devices/<BDF> links into /sys/devices/pciDDDD:BB/<bridges...>/<BDF>, and the snapshot
// writes the same link and directories, so a plan read from it finds the card's own switch.
// The live tree here is laid out as the kernel lays it out for the Arc A380 drawn by `lspci -tv` in
// tests/fixtures/lspci-trees (Alex Williamson, linux-pci). Its IOMMU groups are not published: they are
// taken from the A310 listing of the corpus, whose DG2 switch (4fa1/4fa4) sits in one group with the
// GPU and its audio; the second case gives the audio a group of its own, as the B50 listing shows.
import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSnapshot, writeSnapshot, writeSnapshotDir } from '../../../src/core/inventory/snapshot';
import { computePlan } from '../../../src/core/passthrough/plan';
import { computePlan as helperPlan } from '../../../src/helper/sysfs';

interface LiveFn {
  path: string;
  vendor: string;
  device: string;
  klass: string;
  group: number;
  driver: string;
}

const A380_HOST: LiveFn[] = [
  { path: 'pci0000:00/0000:00:00.0', vendor: '8086', device: '2020', klass: '060000', group: 0, driver: 'skx_uncore' },
  { path: 'pci0000:00/0000:00:02.0', vendor: '8086', device: '4680', klass: '030000', group: 1, driver: 'i915' },
  { path: 'pci0000:5d/0000:5d:00.0', vendor: '8086', device: '2030', klass: '060400', group: 40, driver: 'pcieport' },
  { path: 'pci0000:5d/0000:5d:00.0/0000:5e:00.0', vendor: '8086', device: '4fa1', klass: '060400', group: 41, driver: 'pcieport' },
  { path: 'pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:01.0', vendor: '8086', device: '4fa4', klass: '060400', group: 41, driver: 'pcieport' },
  { path: 'pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:04.0', vendor: '8086', device: '4fa4', klass: '060400', group: 41, driver: 'pcieport' },
  { path: 'pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:01.0/0000:60:00.0', vendor: '8086', device: '56a5', klass: '030000', group: 41, driver: 'i915' },
  { path: 'pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:04.0/0000:61:00.0', vendor: '8086', device: '4f92', klass: '040300', group: 41, driver: 'snd_hda_intel' },
];

const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gb-snapshot-tree-'));
  temps.push(dir);
  return dir;
}

async function link(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

/** A live-looking /sys: real nested directories under sys/devices, everything else symlinks to them, as the kernel has it. */
async function liveHost(fns: readonly LiveFn[]): Promise<string> {
  const root = await temp();
  for (const f of fns) {
    const bdf = f.path.slice(f.path.lastIndexOf('/') + 1);
    const real = join(root, 'sys', 'devices', f.path);
    await mkdir(real, { recursive: true });
    await writeFile(join(real, 'vendor'), `0x${f.vendor}\n`);
    await writeFile(join(real, 'device'), `0x${f.device}\n`);
    await writeFile(join(real, 'class'), `0x${f.klass}\n`);
    await link(real, join(root, 'sys', 'bus', 'pci', 'devices', bdf));
    const drv = join(root, 'sys', 'bus', 'pci', 'drivers', f.driver);
    await mkdir(drv, { recursive: true });
    await link(drv, join(real, 'driver'));
    const group = join(root, 'sys', 'kernel', 'iommu_groups', String(f.group));
    await mkdir(join(group, 'devices'), { recursive: true });
    await link(group, join(real, 'iommu_group'));
    await link(real, join(group, 'devices', bdf));
  }
  return root;
}

describe('a snapshot keeps the bridge tree of the live host', () => {
  it('records each function\'s device path, and the plan read from the snapshot finds the A380\'s own switch', async () => {
    const live = await liveHost(A380_HOST);
    const out = join(await temp(), 'snap');
    await writeSnapshotDir(out, { root: live, runCommands: false });
    expect(await readlink(join(out, 'sys/bus/pci/devices/0000:60:00.0'))).toBe('../../../devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:01.0/0000:60:00.0');
    expect(await readlink(join(out, 'sys/bus/pci/devices/0000:00:02.0'))).toBe('../../../devices/pci0000:00/0000:00:02.0');
    const plan = await computePlan(out, '0000:60:00.0');
    expect(plan.viable).toBe(true);
    expect(plan.cardSwitch).toBe('0000:5e:00.0');
    expect(plan.devices.map((d) => [d.address, d.role, d.why])).toEqual([
      ['0000:60:00.0', 'gpu', 'the GPU'],
      ['0000:61:00.0', 'audio', "in IOMMU group 41 with the GPU (behind the card's own switch 0000:5e:00.0)"],
    ]);
    expect(plan.blockers).toEqual([]);
    expect(helperPlan(out, '0000:60:00.0').devices.map((d) => d.address)).toEqual(['0000:60:00.0', '0000:61:00.0']);
    // the live tree itself reads the same
    expect((await computePlan(live, '0000:60:00.0')).devices.map((d) => d.address)).toEqual(['0000:60:00.0', '0000:61:00.0']);
  });

  it('the audio in a group of its own moves with the GPU; through a .tar.gz too', async () => {
    const live = await liveHost(A380_HOST.map((f) => (f.path.endsWith('0000:61:00.0') ? { ...f, group: 42 } : f)));
    const dir = await temp();
    await writeSnapshot(join(dir, 'snap.tar.gz'), { root: live, runCommands: false });
    const snap = await openSnapshot(join(dir, 'snap.tar.gz'));
    try {
      const plan = await computePlan(snap.root, '0000:60:00.0');
      expect(plan.devices.map((d) => [d.address, d.why])).toEqual([
        ['0000:60:00.0', 'the GPU'],
        ['0000:61:00.0', "the GPU's own audio (behind the card's own switch 0000:5e:00.0), in IOMMU group 42, which holds nothing else"],
      ]);
      expect(helperPlan(snap.root, '0000:60:00.0').devices.map((d) => d.address)).toEqual(['0000:60:00.0', '0000:61:00.0']);
    } finally {
      await snap.close();
    }
  });

  it('without a tree (plain directories, as older snapshots have) the audio on another bus is not the card\'s: the group is shared', async () => {
    const live = await liveHost(A380_HOST);
    const out = join(await temp(), 'snap');
    await writeSnapshotDir(out, { root: live, runCommands: false });
    // an older snapshot: the GPU's entry is a plain directory, not a link into sys/devices
    const flat = await temp();
    await writeSnapshotDir(flat, { root: out, runCommands: false });
    const gpuDir = join(flat, 'sys/bus/pci/devices/0000:60:00.0');
    const real = join(flat, 'sys/devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:01.0/0000:60:00.0');
    await rm(gpuDir);
    await mkdir(gpuDir);
    for (const f of ['vendor', 'device', 'class']) await writeFile(join(gpuDir, f), await readFile(join(real, f)));
    await link(join(flat, 'sys/kernel/iommu_groups/41'), join(gpuDir, 'iommu_group'));
    const plan = await computePlan(flat, '0000:60:00.0');
    expect(plan.cardSwitch).toBeNull();
    expect(plan.blockers.map((b) => [b.code, b.devices])).toEqual([['GROUP_SHARED', ['0000:61:00.0']]]);
    expect(() => helperPlan(flat, '0000:60:00.0')).toThrow(/not the GPU's own functions: 0000:61:00\.0/);
  });
});
