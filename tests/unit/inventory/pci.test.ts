import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isValidBdf, readIommuGroups, readPciFunctions } from '../../../src/core/inventory/pci';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gb-pci-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('isValidBdf', () => {
  it('accepts full lowercase addresses only', () => {
    expect(isValidBdf('0000:01:00.0')).toBe(true);
    expect(isValidBdf('0000:00:1f.7')).toBe(true);
    expect(isValidBdf('01:00.0')).toBe(false);
    expect(isValidBdf('00000000:01:00.0')).toBe(false);
    expect(isValidBdf('0000:01:20.0')).toBe(false);
    expect(isValidBdf('0000:01:00.8')).toBe(false);
    expect(isValidBdf('0000:01:00.0/../x')).toBe(false);
    expect(isValidBdf('0000:0G:00.0')).toBe(false);
  });
});

describe('readPciFunctions', () => {
  it('reads the ASRock Z170 + GTX 960 layout (group 1: root port, VGA, audio)', async () => {
    await buildFakeSysfs(root, {
      devices: [
        { address: '0000:00:01.0', vendor: '8086', device: '1901', class: '060400', driver: 'pcieport', iommuGroup: 1 },
        { address: '0000:01:00.0', vendor: '10de', device: '1401', class: '030000', driver: 'nvidia', iommuGroup: 1, bootVga: true, subsystemVendor: '1462', subsystemDevice: '3201', resetMethod: 'flr bus' },
        { address: '0000:01:00.1', vendor: '10de', device: '0fba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 1, bootVga: false },
        { address: '0000:00:02.0', vendor: '8086', device: '1912', class: '030000', iommuGroup: 0, sriovTotalVfs: 7 },
      ],
      modules: ['vfio_pci'],
    });
    const fns = await readPciFunctions(root);
    expect(fns.map((f) => f.address)).toEqual(['0000:00:01.0', '0000:00:02.0', '0000:01:00.0', '0000:01:00.1']);
    const gpu = fns.find((f) => f.address === '0000:01:00.0');
    expect(gpu).toEqual({
      address: '0000:01:00.0',
      vendorId: '10de',
      deviceId: '1401',
      subsystemVendorId: '1462',
      subsystemDeviceId: '3201',
      classCode: '030000',
      driver: 'nvidia',
      driverOverride: null,
      iommuGroup: 1,
      bootVga: true,
      numaNode: null,
      resetMethod: ['flr', 'bus'],
      sriovTotalVfs: null,
      sriovNumVfs: null,
      isBridge: false,
    });
    const port = fns.find((f) => f.address === '0000:00:01.0');
    expect(port?.isBridge).toBe(true);
    expect(port?.bootVga).toBeNull();
    const igpu = fns.find((f) => f.address === '0000:00:02.0');
    expect(igpu?.driver).toBeNull();
    expect(igpu?.sriovTotalVfs).toBe(7);
    expect(igpu?.sriovNumVfs).toBe(0);

    const groups = await readIommuGroups(root);
    expect([...groups.keys()]).toEqual([0, 1]);
    expect(groups.get(1)).toEqual(['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']);
  });

  it('reads plain files (a snapshot without symlinks) and tolerates missing and garbage files', async () => {
    const dir = join(root, 'sys', 'bus', 'pci', 'devices', '0000:03:00.0');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'vendor'), '0x1002\n');
    await writeFile(join(dir, 'device'), '0x73bf\n');
    await writeFile(join(dir, 'class'), '0x030000\n');
    await writeFile(join(dir, 'numa_node'), '1\n');
    await writeFile(join(dir, 'driver_override'), 'vfio-pci\n');
    await writeFile(join(dir, 'sriov_totalvfs'), 'garbage\n');
    // A directory with no readable ids is skipped, not a crash.
    await mkdir(join(root, 'sys', 'bus', 'pci', 'devices', '0000:04:00.0'), { recursive: true });
    // A name that is not a BDF is ignored.
    await mkdir(join(root, 'sys', 'bus', 'pci', 'devices', 'not-a-bdf'), { recursive: true });
    const fns = await readPciFunctions(root);
    expect(fns).toHaveLength(1);
    expect(fns[0]).toMatchObject({ vendorId: '1002', deviceId: '73bf', numaNode: 1, driverOverride: 'vfio-pci', driver: null, iommuGroup: null, sriovTotalVfs: null, resetMethod: null });
  });

  it('returns empty results for a root with no sys tree', async () => {
    expect(await readPciFunctions(root)).toEqual([]);
    expect((await readIommuGroups(root)).size).toBe(0);
    expect(await readPciFunctions(join(root, 'does-not-exist'))).toEqual([]);
  });
});
