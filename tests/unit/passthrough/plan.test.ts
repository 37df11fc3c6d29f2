import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computePlan } from '../../../src/core/passthrough/plan';
import { computePlan as helperPlan } from '../../../src/helper/sysfs';
import { buildFakeSysfs, type FakePciDevice } from '../../helpers/fake-sysfs';
import { B550, Z170, fixtureDevices } from './fixture-host';

const dirs: string[] = [];
async function host(devices: FakePciDevice[], cmdline = 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gb-plan-'));
  dirs.push(dir);
  await buildFakeSysfs(dir, { devices, cmdline, modules: ['vfio', 'vfio_pci'] });
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('passthrough plan over the fixture hosts', () => {
  it('Z170 GTX 960: good group, GPU + audio move, the root port stays', async () => {
    const root = await host(await fixtureDevices(Z170));
    const plan = await computePlan(root, '0000:01:00.0');
    expect(plan).toEqual({
      target: '0000:01:00.0',
      viable: true,
      devices: [
        { address: '0000:01:00.0', driver: 'nouveau', role: 'gpu', why: 'the GPU' },
        { address: '0000:01:00.1', driver: 'snd_hda_intel', role: 'audio', why: "in IOMMU group 1 with the GPU (in the GPU's slot 0000:01:00)" },
      ],
      optional: [],
      hostOnly: [],
      cardSwitch: null,
      with: [],
      physfn: null,
      blockers: [],
      warnings: [],
    });
    // the helper computes the same device set on its own
    expect(helperPlan(root, '0000:01:00.0').devices.map((d) => d.address)).toEqual(['0000:01:00.0', '0000:01:00.1']);
    expect(helperPlan(root, '0000:01:00.0').bridges).toEqual(['0000:00:01.0']);
  });

  it('Z170 iGPU as boot VGA alone in its group: viable, warns the display goes dark', async () => {
    const devices = (await fixtureDevices(Z170)).map((d) => (d.address === '0000:00:02.0' ? { ...d, bootVga: true } : d));
    const plan = await computePlan(await host(devices), '0000:00:02.0');
    expect(plan.viable).toBe(true);
    expect(plan.devices).toEqual([{ address: '0000:00:02.0', driver: 'i915', role: 'gpu', why: 'the GPU' }]);
    expect(plan.warnings.map((w) => w.code)).toEqual(['BOOT_VGA']);
  });

  it('B550 RTX 2070 SUPER: four functions (gpu, audio, usb, serial/UCSI) move', async () => {
    const root = await host(await fixtureDevices(B550));
    const plan = await computePlan(root, '0000:2b:00.0');
    expect(plan.viable).toBe(true);
    expect(plan.blockers).toEqual([]);
    expect(plan.devices.map(({ address, driver, role }) => ({ address, driver, role }))).toEqual([
      { address: '0000:2b:00.0', driver: 'nouveau', role: 'gpu' },
      { address: '0000:2b:00.1', driver: 'snd_hda_intel', role: 'audio' },
      { address: '0000:2b:00.2', driver: 'xhci_hcd', role: 'usb' },
      { address: '0000:2b:00.3', driver: 'nvidia-gpu', role: 'serial' },
    ]);
    expect(helperPlan(root, '0000:2b:00.0').devices.map((d) => d.address)).toEqual(['0000:2b:00.0', '0000:2b:00.1', '0000:2b:00.2', '0000:2b:00.3']);
  });

  it('B550 GT 710: the chipset group is shared with USB, SATA and the NIC: a blocker naming each', async () => {
    const root = await host(await fixtureDevices(B550));
    const plan = await computePlan(root, '0000:04:00.0');
    expect(plan.viable).toBe(false);
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]?.code).toBe('GROUP_SHARED');
    expect(plan.blockers[0]?.devices).toEqual(['0000:02:00.0', '0000:02:00.1', '0000:2a:00.0']);
    expect(plan.blockers[0]?.message).toContain('0000:02:00.1 (class 010600, ahci)');
    // every non-bridge member must move; the three bridges do not
    expect(plan.devices.map((d) => `${d.address}:${d.role}`)).toEqual([
      '0000:02:00.0:usb',
      '0000:02:00.1:storage',
      '0000:04:00.0:gpu',
      '0000:04:00.1:audio',
      '0000:2a:00.0:network',
    ]);
    expect(() => helperPlan(root, '0000:04:00.0')).toThrow(/0000:02:00.0.*0000:02:00.1.*0000:2a:00.0/);
  });

  it('refuses what is not a GPU and what does not exist', async () => {
    const root = await host(await fixtureDevices(Z170));
    expect((await computePlan(root, '0000:00:17.0')).blockers[0]?.code).toBe('NOT_A_GPU');
    expect((await computePlan(root, '0000:00:01.0')).blockers[0]?.code).toBe('NOT_A_GPU');
    expect((await computePlan(root, '0000:07:00.0')).blockers[0]?.code).toBe('NOT_FOUND');
    expect((await computePlan(root, '../../etc')).blockers[0]?.code).toBe('BAD_ADDRESS');
  });

  it('warns on ACS override, the AMD reset bug and SR-IOV; the audio in its own group moves by default; blocks without an IOMMU', async () => {
    const devices: FakePciDevice[] = [
      { address: '0000:03:00.0', vendor: '1002', device: '67df', class: '030000', driver: 'amdgpu', iommuGroup: 20, sriovTotalVfs: 4, resetMethod: 'bus' },
      { address: '0000:03:00.1', vendor: '1002', device: 'aaf0', class: '040300', driver: 'snd_hda_intel', iommuGroup: 21 },
      { address: '0000:05:00.0', vendor: '10de', device: '1401', class: '030000', driver: 'nouveau' },
    ];
    const root = await host(devices, 'root=/dev/sda1 amd_iommu=on pcie_acs_override=downstream,multifunction');
    const plan = await computePlan(root, '0000:03:00.0');
    expect(plan.viable).toBe(true);
    expect(plan.devices.map((d) => d.address)).toEqual(['0000:03:00.0', '0000:03:00.1']);
    expect(plan.optional).toEqual([]);
    expect(plan.warnings.map((w) => w.code)).toEqual(['AMD_RESET_BUG', 'ACS_OVERRIDE', 'SRIOV_AVAILABLE']);
    const none = await computePlan(root, '0000:05:00.0');
    expect(none.viable).toBe(false);
    expect(none.blockers.map((b) => b.code)).toEqual(['NO_IOMMU_GROUP']);
  });
});
