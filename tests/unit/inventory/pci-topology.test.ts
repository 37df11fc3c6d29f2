// The bridge tree: read from /sys/devices paths, drawn by `lspci -tv`, and rebuilt from bus numbers where a
// listing has none. The trees here are published ones (tests/fixtures/SOURCES-passthrough.md).
import { readFileSync } from 'node:fs';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildBusTree } from '../../../src/core/inventory/bus-tree';
import { writeListingSnapshot, type ListingDevice } from '../../../src/core/inventory/iommu-listing';
import { computePlan } from '../../../src/core/passthrough/plan';
import { parseLspciTree } from '../../../src/core/inventory/lspci-tree';
import { ancestorsFromPath, devicePathOf } from '../../../src/core/inventory/pci-topology';

const A380_TREE = readFileSync(join(__dirname, '..', '..', 'fixtures', 'lspci-trees', 'alex-williamson-linux-pci-2024-05__skylake-sp__arc-a380.txt'), 'utf8');

describe('a function\'s place read from its /sys/devices path', () => {
  it('gives the bridges above it, root port first', () => {
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:00:02.1/0000:05:00.0/0000:06:00.0/0000:07:00.0/0000:08:01.0/0000:09:00.0', '0000:09:00.0')).toEqual([
      '0000:00:02.1',
      '0000:05:00.0',
      '0000:06:00.0',
      '0000:07:00.0',
      '0000:08:01.0',
    ]);
    expect(ancestorsFromPath('/sys/devices/pci0000:5d/0000:5d:00.0', '0000:5d:00.0')).toEqual([]);
    expect(devicePathOf('0000:60:00.0', ['0000:5d:00.0', '0000:5e:00.0', '0000:5f:01.0'])).toBe('sys/devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:01.0/0000:60:00.0');
  });

  it('is null for what is not a plain PCI path: VMD, platform devices, a wrong end, buses that do not descend, hostile text', () => {
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0/10000:e1:00.0', '10000:e1:00.0')).toBeNull();
    expect(ancestorsFromPath('../../../devices/platform/foo/0000:01:00.0', '0000:01:00.0')).toBeNull();
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0', '0000:01:00.1')).toBeNull();
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:01:00.0', '0000:01:00.0')).toBeNull(); // not on the root bus
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:00:01.0/0000:00:02.0', '0000:00:02.0')).toBeNull(); // same bus below a bridge
    expect(ancestorsFromPath('../../../devices/pci0000:00/0000:00:01.0/0001:01:00.0', '0001:01:00.0')).toBeNull(); // another domain
    expect(ancestorsFromPath(`../../../devices/pci0000:00/${'../'.repeat(50)}etc/0000:01:00.0`, '0000:01:00.0')).toBeNull();
    expect(ancestorsFromPath(42, '0000:01:00.0')).toBeNull();
    expect(ancestorsFromPath('x'.repeat(10_000), '0000:01:00.0')).toBeNull();
  });
});

describe('an `lspci -tv` drawing', () => {
  it('Alex Williamson\'s Arc A380 on a Sky Lake-SP root bus: the card\'s switch 5e:00.0, the GPU and its audio on two of its ports', () => {
    const tree = parseLspciTree(A380_TREE);
    expect(tree.problems).toEqual([]);
    expect(Object.fromEntries(tree.ancestors)).toEqual({
      '0000:5d:00.0': [],
      '0000:5e:00.0': ['0000:5d:00.0'],
      '0000:5f:01.0': ['0000:5d:00.0', '0000:5e:00.0'],
      '0000:60:00.0': ['0000:5d:00.0', '0000:5e:00.0', '0000:5f:01.0'],
      '0000:5f:04.0': ['0000:5d:00.0', '0000:5e:00.0'],
      '0000:61:00.0': ['0000:5d:00.0', '0000:5e:00.0', '0000:5f:04.0'],
    });
    expect(tree.names.get('0000:60:00.0')).toBe('Intel Corporation DG2 [Arc A380]');
    expect(tree.names.get('0000:61:00.0')).toBe('Intel Corporation DG2 Audio Controller');
  });

  it('a whole drawing with two root buses and childless ports', () => {
    const text = [
      '-+-[0000:40]-+-00.0  Host bridge',
      ' |           \\-01.1-[41]----00.0  NVMe',
      ' \\-[0000:00]-+-00.0  Host bridge',
      '             +-01.0-[01-03]----00.0-[02-03]--+-01.0-[03]----00.0  GPU',
      '             |                               \\-04.0-[04]--',
      '             \\-1f.3  Audio',
    ].join('\n');
    const tree = parseLspciTree(text);
    expect(tree.problems).toEqual([]);
    expect(tree.ancestors.get('0000:41:00.0')).toEqual(['0000:40:01.1']);
    expect(tree.ancestors.get('0000:03:00.0')).toEqual(['0000:00:01.0', '0000:01:00.0', '0000:02:01.0']);
    expect(tree.ancestors.get('0000:02:04.0')).toEqual(['0000:00:01.0', '0000:01:00.0']);
    expect(tree.ancestors.get('0000:00:1f.3')).toEqual([]);
  });

  it('never throws on what is not a tree, and names the lines it cannot place', () => {
    expect(parseLspciTree(undefined).problems).toEqual(['the tree is not text']);
    const junk = parseLspciTree('hello\n          \\-04.0-[61]----00.0  orphan\n+-[zz:zz]\n' + '-'.repeat(100_000));
    expect(junk.ancestors.size).toBe(0);
    expect(junk.problems.length).toBeGreaterThan(0);
    expect(junk.problems.some((p) => /line 2: a branch in column 11 that no earlier line opened/.test(p))).toBe(true);
  });
});

describe('the bridge tree rebuilt from bus numbers (firmware numbers buses depth first)', () => {
  it('gives the same tree lspci draws for the A380 host', () => {
    const drawn = parseLspciTree(A380_TREE).ancestors;
    const classes: Record<string, string> = { '0000:60:00.0': '0300', '0000:61:00.0': '0403' };
    const rebuilt = rebuildBusTree([...drawn.keys()].map((address) => ({ address, classCode: classes[address] ?? '0604' })));
    expect(rebuilt.problem).toBeNull();
    expect(Object.fromEntries(rebuilt.ancestors)).toEqual(Object.fromEntries(drawn));
  });

  it('an empty port still takes its bus number (the Granite Ridge chipset port 06:0b.0 before the USB controller on 10)', () => {
    const rebuilt = rebuildBusTree([
      { address: '0000:00:00.0', classCode: '0600' },
      { address: '0000:00:02.1', classCode: '0604' },
      { address: '0000:01:00.0', classCode: '0604' },
      { address: '0000:02:0b.0', classCode: '0604' },
      { address: '0000:02:0c.0', classCode: '0604' },
      { address: '0000:04:00.0', classCode: '0c03' },
    ]);
    expect(rebuilt.problem).toBeNull();
    expect(rebuilt.ancestors.get('0000:04:00.0')).toEqual(['0000:00:02.1', '0000:01:00.0', '0000:02:0c.0']);
  });

  it('says it cannot where the firmware reserved bus numbers for hot-plug (the A750 behind Thunderbolt drawn with hpbussize=20)', () => {
    // Bus numbers from Kurt Kartaltepe's drawing on amd-gfx (2024-03-19, see SOURCES-passthrough.md):
    // 24:00.0-[25-66], 25:01.0-[26-45], 26:00.0-[27-29], 27:01.0-[28] GPU, 27:04.0-[29] audio, 25:02.0-[46] USB, 25:04.0-[47-66].
    const rebuilt = rebuildBusTree([
      { address: '0000:24:00.0', classCode: '0604' },
      { address: '0000:25:01.0', classCode: '0604' },
      { address: '0000:25:02.0', classCode: '0604' },
      { address: '0000:25:04.0', classCode: '0604' },
      { address: '0000:26:00.0', classCode: '0604' },
      { address: '0000:27:01.0', classCode: '0604' },
      { address: '0000:27:04.0', classCode: '0604' },
      { address: '0000:28:00.0', classCode: '0300' },
      { address: '0000:29:00.0', classCode: '0403' },
      { address: '0000:46:00.0', classCode: '0c03' },
    ]);
    expect(rebuilt.ancestors.size).toBe(0);
    expect(rebuilt.problem).toMatch(/^bus 0000:46 has devices but no bridge leads to it by depth-first numbering.*reserved for hot-plug/);
  });

  it('says it cannot when a class is unknown (it may be a bridge), and takes a second root bus only where it looks like one', () => {
    expect(rebuildBusTree([{ address: '0000:00:01.0', classCode: null }]).problem).toMatch(/0000:00:01\.0: class unknown/);
    const twoRoots = rebuildBusTree([
      { address: '0000:00:00.0', classCode: '0600' },
      { address: '0000:00:01.0', classCode: '0604' },
      { address: '0000:01:00.0', classCode: '0300' },
      { address: '0000:40:00.0', classCode: '0600' },
      { address: '0000:40:01.1', classCode: '0604' },
      { address: '0000:41:00.0', classCode: '0108' },
    ]);
    expect(twoRoots.problem).toBeNull();
    expect(twoRoots.ancestors.get('0000:41:00.0')).toEqual(['0000:40:01.1']);
    expect(rebuildBusTree([]).problem).toBeNull();
  });
});

describe('a listing snapshot with the tree an lspci -tv drawing gives', () => {
  it('nests each function under its bridges and the plan finds the A380\'s own switch', async () => {
    // The drawing's functions, with classes and ids from the DG2 parts of the Arc A310 listing and one IOMMU
    // group for the card's switch, GPU and audio as in that listing (the A380 host's groups are not published).
    const drawn = parseLspciTree(A380_TREE).ancestors;
    const ids: Record<string, [string, string]> = { '0000:5e:00.0': ['4fa1', '0604'], '0000:5f:01.0': ['4fa4', '0604'], '0000:5f:04.0': ['4fa4', '0604'], '0000:60:00.0': ['56a5', '0300'], '0000:61:00.0': ['4f92', '0403'] };
    const devices: ListingDevice[] = [...drawn.keys()].map((address) => {
      const [deviceId, classCode] = ids[address] ?? ['2030', '0604'];
      return { address, group: address === '0000:5d:00.0' ? 40 : 41, classCode, vendorId: '8086', deviceId, name: '', truncated: false };
    });
    const root = await mkdtemp(join(tmpdir(), 'gb-tree-listing-'));
    try {
      expect(await writeListingSnapshot(root, devices, { tree: drawn })).toEqual({ tree: 'given', problem: null });
      expect(await readlink(join(root, 'sys/bus/pci/devices/0000:61:00.0'))).toBe('../../../devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/0000:5f:04.0/0000:61:00.0');
      const plan = await computePlan(root, '0000:60:00.0');
      expect(plan.cardSwitch).toBe('0000:5e:00.0');
      expect(plan.devices.map((d) => d.address)).toEqual(['0000:60:00.0', '0000:61:00.0']);
      expect(plan.viable).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
