// The smallest correct set: the target's IOMMU group and the GPU's own audio move; other functions of
// the slot in other groups stay unless asked for; what the host loses is named with its evidence.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostdevXml, planHostdevs } from '../../../src/core/passthrough/libvirt';
import { computePlan } from '../../../src/core/passthrough/plan';
import { computePlan as helperPlan } from '../../../src/helper/sysfs';
import { buildFakeSysfs, type FakePciDevice, type FakeSysfsSpec } from '../../helpers/fake-sysfs';

const dirs: string[] = [];
async function host(devices: FakePciDevice[], extra: Partial<FakeSysfsSpec> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gb-plan-set-'));
  dirs.push(dir);
  await buildFakeSysfs(dir, { devices, cmdline: 'root=/dev/nvme0n1p2 amd_iommu=on', modules: ['vfio', 'vfio_pci'], ...extra });
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// An AMD Cezanne APU's slot, laid out as the kernel groups it (each function alone); its USB controller
// at .3 has the owner's keyboard behind it.
const KEYBOARD = {
  'usb3/3-2/product': 'USB Keyboard\n',
  'usb3/3-2/3-2:1.0/bInterfaceClass': '03\n',
  'usb3/3-2/3-2:1.0/0003:04D9:1702.0001/input/input5/name': 'HID 04d9:1702\n',
};
const APU: FakePciDevice[] = [
  { address: '0000:00:08.1', vendor: '1022', device: '1635', class: '060400', driver: 'pcieport', iommuGroup: 4 },
  { address: '0000:07:00.0', vendor: '1002', device: '1638', class: '030000', driver: 'amdgpu', iommuGroup: 5, bootVga: true },
  { address: '0000:07:00.1', vendor: '1002', device: '1637', class: '040300', driver: 'snd_hda_intel', iommuGroup: 6 },
  { address: '0000:07:00.2', vendor: '1022', device: '15df', class: '108000', driver: 'ccp', iommuGroup: 7 },
  { address: '0000:07:00.3', vendor: '1022', device: '1639', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 8, files: KEYBOARD },
  { address: '0000:07:00.4', vendor: '1022', device: '1639', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 9 },
  { address: '0000:07:00.6', vendor: '1022', device: '15e3', class: '040300', driver: 'snd_hda_intel', iommuGroup: 10 },
  { address: '0000:01:00.0', vendor: '10de', device: '2484', class: '030000', driver: 'nvidia', iommuGroup: 12 },
  { address: '0000:01:00.1', vendor: '10de', device: '228b', class: '040300', driver: 'snd_hda_intel', iommuGroup: 12 },
];

describe('the smallest correct set', () => {
  it('APU: the iGPU and its HDMI audio move; USB and the chipset audio stay, listed as optional with reasons; the PSP is never offered', async () => {
    const root = await host(APU);
    const plan = await computePlan(root, '0000:07:00.0');
    expect(plan.devices.map((d) => `${d.address} ${d.role}`)).toEqual(['0000:07:00.0 gpu', '0000:07:00.1 audio']);
    expect(plan.devices[1]?.why).toBe("the GPU's own audio (in the GPU's slot 0000:07:00), in IOMMU group 6, which holds nothing else");
    expect(plan.optional.map((o) => `${o.address} ${o.role} ${o.group}`)).toEqual(['0000:07:00.3 usb 8', '0000:07:00.4 usb 9', '0000:07:00.6 audio 10']);
    expect(plan.optional[0]?.reason).toMatch(/own IOMMU group \(8\).*stays on the host/);
    expect(plan.optional[0]?.hostLoss).toEqual(['input device "HID 04d9:1702"']);
    expect(plan.optional[1]?.hostLoss).toEqual([]);
    expect(plan.hostOnly).toEqual([{ address: '0000:07:00.2', role: 'crypto', reason: expect.stringMatching(/^the platform security processor \(AMD PSP\/CCP.*never offered$/) as string }]);
    expect(plan.viable).toBe(true);
    // the boot display goes, but the RTX stays on its driver: no LAST_DISPLAY
    expect(plan.warnings.map((w) => w.code)).toEqual(['BOOT_VGA']);
    expect(plan.warnings[0]?.evidence).toEqual([{ file: '/sys/bus/pci/devices/0000:07:00.0/boot_vga', value: '1' }]);
    // the helper, on its own, moves exactly the same set
    expect(helperPlan(root, '0000:07:00.0').devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1']);
  });

  it('APU with --with the keyboard\'s USB controller: it moves (its group too) and the host is told it loses the keyboard', async () => {
    const root = await host(APU);
    const plan = await computePlan(root, '0000:07:00.0', { with: ['0000:07:00.3'] });
    expect(plan.devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1', '0000:07:00.3']);
    expect(plan.optional.map((o) => o.address)).toEqual(['0000:07:00.4', '0000:07:00.6']);
    expect(plan.with).toEqual(['0000:07:00.3']);
    const input = plan.warnings.find((w) => w.code === 'HOST_LOSES_INPUT');
    expect(input?.devices).toEqual(['0000:07:00.3']);
    expect(input?.message).toContain('"HID 04d9:1702"');
    expect(input?.evidence).toEqual([{ file: '/sys/bus/pci/devices/0000:07:00.3/usb3/3-2/3-2:1.0/0003:04D9:1702.0001/input/input5/name', value: 'HID 04d9:1702' }]);
    expect(helperPlan(root, '0000:07:00.0', ['0000:07:00.3']).devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1', '0000:07:00.3']);
  });

  it('an extra that is not an optional function of the card is a blocker, and the helper refuses it', async () => {
    const root = await host(APU);
    const plan = await computePlan(root, '0000:07:00.0', { with: ['0000:01:00.0'] });
    expect(plan.viable).toBe(false);
    expect(plan.blockers.map((b) => b.code)).toEqual(['NOT_OPTIONAL']);
    expect(plan.blockers[0]?.message).toContain('the ones that can be added are 0000:07:00.3, 0000:07:00.4, 0000:07:00.6');
    expect(() => helperPlan(root, '0000:07:00.0', ['0000:01:00.0'])).toThrow(/not an optional function/);
    // the platform security processor is the card's slot's, but never an extra: the plan blocks, the helper refuses
    const psp = await computePlan(root, '0000:07:00.0', { with: ['0000:07:00.2'] });
    expect(psp.blockers.map((b) => b.code)).toEqual(['HOST_CRITICAL']);
    expect(psp.blockers[0]?.message).toMatch(/^0000:07:00\.2 is the platform security processor/);
    expect(psp.devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1']);
    expect(() => helperPlan(root, '0000:07:00.0', ['0000:07:00.2'])).toThrow(/host's platform needs: it is never taken as an extra/);
    // an extra already in the plan changes nothing
    expect((await computePlan(root, '0000:07:00.0', { with: ['0000:07:00.1'] })).devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1']);
    expect((await computePlan(root, '0000:07:00.0', { with: ['zz'] })).blockers[0]?.code).toBe('BAD_ADDRESS');
  });

  it('HDMI audio in a group shared with a stranger stays optional, with the reason', async () => {
    const devices: FakePciDevice[] = [
      { address: '0000:0a:00.0', vendor: '1002', device: '73bf', class: '030000', driver: 'amdgpu', iommuGroup: 30 },
      { address: '0000:0a:00.1', vendor: '1002', device: 'ab28', class: '040300', driver: 'snd_hda_intel', iommuGroup: 31 },
      { address: '0000:0b:00.0', vendor: '8086', device: '15f3', class: '020000', driver: 'igc', iommuGroup: 31 },
      { address: '0000:00:02.0', vendor: '8086', device: '4680', class: '030000', driver: 'i915', iommuGroup: 0 },
    ];
    const plan = await computePlan(await host(devices), '0000:0a:00.0');
    expect(plan.devices.map((d) => d.address)).toEqual(['0000:0a:00.0']);
    expect(plan.optional).toEqual([
      { address: '0000:0a:00.1', role: 'audio', group: 31, driver: 'snd_hda_intel', reason: expect.stringContaining('also holds 0000:0b:00.0') as string, hostLoss: [] },
    ]);
    expect(plan.viable).toBe(true);
  });

  it('the only display controller on a driver: LAST_DISPLAY names it and the others', async () => {
    const devices: FakePciDevice[] = [
      { address: '0000:01:00.0', vendor: '10de', device: '2684', class: '030000', driver: 'nvidia', iommuGroup: 14 },
      { address: '0000:01:00.1', vendor: '10de', device: '22ba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 14 },
      { address: '0000:02:00.0', vendor: '10de', device: '128b', class: '030000', driver: 'vfio-pci', iommuGroup: 15 },
    ];
    const plan = await computePlan(await host(devices), '0000:01:00.0');
    const last = plan.warnings.find((w) => w.code === 'LAST_DISPLAY');
    expect(last?.devices).toEqual(['0000:01:00.0']);
    expect(last?.message).toContain('0000:02:00.0 on vfio-pci');
    expect(last?.evidence?.map((e) => e.value)).toEqual(['nvidia (moves)', 'vfio-pci']);
  });
});

describe('what the host loses behind a shared group', () => {
  const chipset = (files: Record<string, string>): FakePciDevice[] => [
    { address: '0000:04:00.0', vendor: '10de', device: '128b', class: '030000', driver: 'nouveau', iommuGroup: 13 },
    { address: '0000:04:00.1', vendor: '10de', device: '0e0f', class: '040300', driver: 'snd_hda_intel', iommuGroup: 13 },
    { address: '0000:05:00.0', vendor: '144d', device: 'a808', class: '010802', driver: 'nvme', iommuGroup: 13, files },
    { address: '0000:2a:00.0', vendor: '10ec', device: '8125', class: '020000', driver: 'r8169', iommuGroup: 13, files: { 'net/enp42s0/ifindex': '2\n' } },
    { address: '0000:2b:00.0', vendor: '10de', device: '1e84', class: '030000', driver: 'nvidia', iommuGroup: 14 },
  ];
  const nvme = { 'nvme/nvme0/nvme0n1/queue/rotational': '0\n', 'nvme/nvme0/nvme0n1/nvme0n1p1/partition': '1\n', 'nvme/nvme0/nvme0n1/nvme0n1p2/partition': '2\n' };
  const route = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nenp42s0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\nenp42s0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n';

  it('the root filesystem behind the group is a blocker; the default route a warning; each with its files', async () => {
    const mounts = '/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n/dev/nvme0n1p1 /boot/efi vfat rw 0 0\nproc /proc proc rw 0 0\n';
    const root = await host(chipset(nvme), { files: { 'proc/mounts': mounts, 'proc/net/route': route } });
    const plan = await computePlan(root, '0000:04:00.0');
    expect(plan.viable).toBe(false);
    expect(plan.blockers.map((b) => b.code)).toEqual(['GROUP_SHARED', 'HOST_ROOT_FILESYSTEM']);
    const rootFs = plan.blockers[1];
    expect(rootFs?.message).toContain('/dev/nvme0n1p2 mounted on /');
    expect(rootFs?.message).toContain('/dev/nvme0n1p1 mounted on /boot/efi');
    expect(rootFs?.evidence).toContainEqual({ file: '/proc/mounts', value: '/dev/nvme0n1p2 /' });
    expect(rootFs?.evidence).toContainEqual({ file: '/sys/bus/pci/devices/0000:05:00.0/nvme/nvme0/nvme0n1/nvme0n1p2', value: 'nvme0n1p2' });
    const net = plan.warnings.find((w) => w.code === 'HOST_LOSES_NETWORK');
    expect(net?.devices).toEqual(['0000:2a:00.0']);
    expect(net?.message).toContain('enp42s0, which holds the default route');
    expect(net?.evidence?.[1]?.file).toBe('/proc/net/route');
  });

  it('a data disk mounted through LUKS (a dm holder) is a warning, not a blocker', async () => {
    const files = { 'nvme/nvme0/nvme0n1/queue/rotational': '0\n' };
    const mounts = '/dev/sda2 / ext4 rw 0 0\n/dev/mapper/data /srv/data ext4 rw 0 0\n';
    const root = await host(chipset(files), {
      files: { 'proc/mounts': mounts, 'sys/class/block/nvme0n1/holders/dm-0': '', 'sys/class/block/dm-0/dm/name': 'data\n' },
    });
    const plan = await computePlan(root, '0000:04:00.0');
    expect(plan.blockers.map((b) => b.code)).toEqual(['GROUP_SHARED']);
    const storage = plan.warnings.find((w) => w.code === 'HOST_LOSES_STORAGE');
    expect(storage?.message).toContain('/dev/mapper/data mounted on /srv/data');
    expect(plan.warnings.find((w) => w.code === 'HOST_LOSES_NETWORK')).toBeUndefined();
  });
});

describe('SR-IOV virtual functions', () => {
  // An Intel Alder Lake iGPU with SR-IOV: VFs share the PF's slot, each in its own group.
  const igpu: FakePciDevice[] = [
    { address: '0000:00:02.0', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 0, sriovTotalVfs: 7, bootVga: true },
    { address: '0000:00:02.1', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 20, physfn: '0000:00:02.0' },
    { address: '0000:00:02.2', vendor: '8086', device: '46a6', class: '030000', iommuGroup: 21, physfn: '0000:00:02.0' },
  ];

  it('a VF moves alone; the PF keeps its driver and the display', async () => {
    const root = await host(igpu);
    const plan = await computePlan(root, '0000:00:02.1');
    expect(plan.viable).toBe(true);
    expect(plan.physfn).toBe('0000:00:02.0');
    expect(plan.devices).toEqual([{ address: '0000:00:02.1', driver: 'i915', role: 'gpu', why: 'the virtual function' }]);
    expect(plan.optional).toEqual([]);
    expect(plan.warnings.map((w) => w.code)).toEqual(['VIRTUAL_FUNCTION']);
    expect(plan.warnings[0]?.message).toContain('0000:00:02.0 keeps its driver (i915)');
    expect(helperPlan(root, '0000:00:02.1').devices.map((d) => d.address)).toEqual(['0000:00:02.1']);
    // the VM gets the VF's own address
    expect(planHostdevs(plan)).toEqual([hostdevXml('0000:00:02.1')]);
    expect(planHostdevs(plan)[0]).toContain("<address domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>");
  });

  it('the PF\'s plan does not offer its VFs as optional functions, and says which VFs to pass instead', async () => {
    const plan = await computePlan(await host(igpu), '0000:00:02.0');
    expect(plan.devices.map((d) => d.address)).toEqual(['0000:00:02.0']);
    expect(plan.optional).toEqual([]);
    const sriov = plan.warnings.find((w) => w.code === 'SRIOV_AVAILABLE');
    expect(sriov?.devices).toEqual(['0000:00:02.0', '0000:00:02.1', '0000:00:02.2']);
    expect(sriov?.message).toContain('2 of 7 virtual functions enabled');
  });

  it('a VF of a device that is not a GPU (an NVMe VF, as in the QEMU test) can be planned; a plain NVMe cannot', async () => {
    const devices: FakePciDevice[] = [
      { address: '0000:01:00.0', vendor: '1b36', device: '0010', class: '010802', driver: 'nvme', iommuGroup: 7, sriovTotalVfs: 2 },
      { address: '0000:01:00.1', vendor: '1b36', device: '0010', class: '010802', iommuGroup: 8, physfn: '0000:01:00.0' },
    ];
    const root = await host(devices);
    expect((await computePlan(root, '0000:01:00.1')).devices.map((d) => `${d.address} ${d.role}`)).toEqual(['0000:01:00.1 storage']);
    expect((await computePlan(root, '0000:01:00.0')).blockers[0]?.code).toBe('NOT_A_GPU');
    expect(() => helperPlan(root, '0000:01:00.0')).toThrow(/not a display controller/);
  });
});
