import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildInventory } from '../../../src/core/inventory/inventory';
import { writeSnapshotDir } from '../../../src/core/inventory/snapshot';
import { Inventory } from '../../../src/shared/contract/inventory';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';

const xmlPath = (name: string) => join(__dirname, '../../fixtures/nvidia-smi-xml', name);
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gb-inv-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const CPUINFO = 'processor\t: 0\nmodel name\t: AMD Ryzen 7 5800X 8-Core Processor\nflags\t\t: fpu svm sse\n\nprocessor\t: 1\nmodel name\t: AMD Ryzen 7 5800X 8-Core Processor\nflags\t\t: fpu svm sse\n';

describe('buildInventory', () => {
  it('merges sysfs and nvidia-smi for an RTX 3080 with its audio function and root port', async () => {
    await buildFakeSysfs(root, {
      devices: [
        { address: '0000:00:03.1', vendor: '1022', device: '1483', class: '060400', driver: 'pcieport', iommuGroup: 14 },
        { address: '0000:0c:00.0', vendor: '10de', device: '2216', class: '030000', driver: 'nvidia', iommuGroup: 14, bootVga: true, subsystemVendor: '19da', subsystemDevice: '1612', resetMethod: 'bus' },
        { address: '0000:0c:00.1', vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel', iommuGroup: 14 },
        { address: '0000:0e:00.0', vendor: '1002', device: '73bf', class: '030000', driver: 'amdgpu', iommuGroup: 20, bootVga: false },
      ],
      cpuinfo: CPUINFO,
      cmdline: 'BOOT_IMAGE=/vmlinuz amd_iommu=on iommu=pt',
      acpiTables: ['IVRS'],
    });
    mkdirSync(join(root, 'proc', 'sys', 'kernel'), { recursive: true });
    writeFileSync(join(root, 'proc', 'sys', 'kernel', 'osrelease'), '6.1.0-18-amd64\n');
    writeFileSync(join(root, 'proc', 'meminfo'), 'MemTotal:       65758204 kB\nMemFree: 1 kB\n');
    writeFileSync(join(root, 'sys', 'bus', 'pci', 'devices', '0000:0e:00.0', 'mem_info_vram_total'), '17163091968\n');
    mkdirSync(join(root, 'cmd'));
    cpSync(xmlPath('telegraf__rtx-3080-v13.xml'), join(root, 'cmd', 'nvidia-smi.xml'));

    const inv = await buildInventory({ root, live: false });
    expect(() => Inventory.parse(inv)).not.toThrow();
    expect(inv.warnings).toEqual([]);
    expect(inv.gpus.map((g) => g.address)).toEqual(['0000:0c:00.0', '0000:0e:00.0']);
    const nv = inv.gpus[0];
    expect(nv).toMatchObject({
      vendor: 'nvidia', name: 'NVIDIA GeForce RTX 3080', driver: 'nvidia', iommuGroup: 14, bootVga: true,
      memoryTotalBytes: 10 * 1024 ** 3, encoders: { h264: true, hevc: true, av1: false }, encoderSessionLimit: 8, resetMethod: ['bus'],
    });
    expect(nv?.groupMembers.map((m) => [m.address, m.isBridge])).toEqual([['0000:00:03.1', true], ['0000:0c:00.0', false], ['0000:0c:00.1', false]]);
    expect(nv?.functions.map((m) => m.address)).toEqual(['0000:0c:00.0', '0000:0c:00.1']);
    expect(nv?.nvidia).toMatchObject({ uuid: 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4', driverVersion: '595.58.03', cudaVersion: '13.2', source: 'nvidia-smi' });
    const amd = inv.gpus[1];
    expect(amd).toMatchObject({ vendor: 'amd', driver: 'amdgpu', memoryTotalBytes: 17163091968, nvidia: null, encoders: { h264: null, hevc: null, av1: null }, encoderSessionLimit: null });
    expect(inv.host).toEqual({
      cpuModel: 'AMD Ryzen 7 5800X 8-Core Processor', cpuCores: 2, memoryTotalBytes: 65758204 * 1024, os: null, kernel: '6.1.0-18-amd64',
      virtualization: { vmx: false, svm: true, hypervisor: false }, firmwareIommu: 'IVRS', cmdline: 'BOOT_IMAGE=/vmlinuz amd_iommu=on iommu=pt',
    });
  });

  it.each([
    ['telegraf__a100-sxm4-v12.xml', '0000:01:00.0', 'NVIDIA A100-SXM4-80GB', 80 * 1024 ** 3, '535.54.03', { h264: false, hevc: false, av1: false }, null],
    ['telegraf__gtx-1070-ti.xml', '0000:01:00.0', 'GeForce GTX 1070 Ti', 4 * 1024 ** 3, null, { h264: true, hevc: true, av1: false }, null],
    ['telegraf__rtx-3080-v13.xml', '0000:0c:00.0', 'NVIDIA GeForce RTX 3080', 10 * 1024 ** 3, '595.58.03', { h264: true, hevc: true, av1: false }, 8],
    ['telegraf__tesla-t4.xml', '0000:00:1e.0', 'Tesla T4', 15360 * 1024 ** 2, '515.105.01', { h264: true, hevc: true, av1: false }, 'unlimited'],
    ['telegraf__tesla_p4.xml', '0000:00:0b.0', 'GRID P4-1Q', 1024 ** 3, '513.46', { h264: true, hevc: true, av1: false }, 'unlimited'],
  ] as const)('a snapshot holding only cmd/nvidia-smi.xml (%s) yields its GPU', async (file, address, name, mem, driver, encoders, limit) => {
    mkdirSync(join(root, 'cmd'));
    cpSync(xmlPath(file), join(root, 'cmd', 'nvidia-smi.xml'));
    const inv = await buildInventory({ root, live: false });
    expect(() => Inventory.parse(inv)).not.toThrow();
    expect(inv.gpus).toHaveLength(1);
    expect(inv.gpus[0]).toMatchObject({ address, vendor: 'nvidia', name, memoryTotalBytes: mem, encoders, encoderSessionLimit: limit, iommuGroup: null, driver: null, bootVga: null });
    expect(inv.gpus[0]?.nvidia?.driverVersion).toBe(driver);
  });

  it('a truncated nvidia-smi.xml gives a warning and the sysfs view, not a crash', async () => {
    await buildFakeSysfs(root, { devices: [{ address: '0000:01:00.0', vendor: '10de', device: '1eb8', class: '030200', driver: 'nvidia', iommuGroup: 3 }] });
    mkdirSync(join(root, 'cmd'));
    const xml = readFileSync(xmlPath('telegraf__tesla-t4.xml'), 'utf8');
    writeFileSync(join(root, 'cmd', 'nvidia-smi.xml'), xml.slice(0, 3000));
    const inv = await buildInventory({ root, live: false });
    expect(inv.warnings[0]).toMatch(/nvidia-smi XML unreadable/);
    expect(inv.gpus[0]).toMatchObject({ address: '0000:01:00.0', vendor: 'nvidia', name: null, nvidia: null, encoders: { h264: true, hevc: true, av1: false } });
  });

  it('cross-checks NVENC with cmd/ffmpeg-encoders.txt', async () => {
    await buildFakeSysfs(root, { devices: [{ address: '0000:01:00.0', vendor: '10de', device: '26b9', class: '030200', driver: 'nvidia' }] });
    mkdirSync(join(root, 'cmd'));
    writeFileSync(join(root, 'cmd', 'ffmpeg-encoders.txt'), ' V....D libx264              libx264 H.264 / AVC\n V....D libx265              libx265 H.265 / HEVC\n');
    const inv = await buildInventory({ root, live: false });
    expect(inv.ffmpegNvenc).toEqual({ h264: false, hevc: false, av1: false });
    expect(inv.gpus[0]?.encoders).toEqual({ h264: true, hevc: true, av1: true });
    expect(inv.warnings).toEqual(['this ffmpeg has no h264_nvenc encoder: hardware encoding will fall back to software']);
  });

  it('an empty directory yields no GPU and an all-null host', async () => {
    const inv = await buildInventory({ root, live: false });
    expect(inv.gpus).toEqual([]);
    expect(inv.ffmpegNvenc).toBeNull();
    expect(inv.host.cpuModel).toBeNull();
    expect(inv.host.virtualization.vmx).toBeNull();
  });

  it('writeSnapshotDir round-trips a fake host', async () => {
    const src = join(root, 'src');
    await buildFakeSysfs(src, {
      devices: [
        { address: '0000:01:00.0', vendor: '10de', device: '2216', class: '030000', driver: 'vfio-pci', iommuGroup: 1, bootVga: false, driverOverride: 'vfio-pci' },
        { address: '0000:01:00.1', vendor: '10de', device: '1aef', class: '040300', iommuGroup: 1 },
      ],
      modules: ['vfio_pci', 'kvm'],
      cpuinfo: CPUINFO,
      acpiTables: ['DMAR'],
    });
    const out = join(root, 'snap');
    const files = await writeSnapshotDir(out, { root: src, runCommands: false });
    expect(files).toBeGreaterThan(10);
    const a = await buildInventory({ root: src, live: false });
    const b = await buildInventory({ root: out, live: false });
    expect(b).toEqual(a);
    expect(b.gpus[0]).toMatchObject({ driver: 'vfio-pci', driverOverride: 'vfio-pci', iommuGroup: 1, bootVga: false });
    expect(b.host.firmwareIommu).toBe('DMAR');
  });

  it('lists a PF\'s virtual functions with their own groups; a VF names its PF; a snapshot keeps both and what the host would lose', async () => {
    const src = join(root, 'src');
    await buildFakeSysfs(src, {
      devices: [
        { address: '0000:00:02.0', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 0, sriovTotalVfs: 7, bootVga: true },
        { address: '0000:00:02.1', vendor: '8086', device: '46a6', class: '030000', driver: 'vfio-pci', iommuGroup: 20, physfn: '0000:00:02.0' },
        { address: '0000:00:02.2', vendor: '8086', device: '46a6', class: '030000', iommuGroup: 21, physfn: '0000:00:02.0' },
        { address: '0000:00:14.0', vendor: '8086', device: '51ed', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 5, files: { 'usb1/1-3/1-3:1.0/input/input7/name': 'Logitech USB Receiver\n' } },
        { address: '0000:00:1d.0', vendor: '144d', device: 'a808', class: '010802', driver: 'nvme', iommuGroup: 6, files: { 'nvme/nvme0/nvme0n1/queue/rotational': '0\n', 'nvme/nvme0/nvme0n1/nvme0n1p2/partition': '2\n' } },
      ],
      files: { 'proc/mounts': '/dev/nvme0n1p2 / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n' },
    });
    const a = await buildInventory({ root: src, live: false });
    const pf = a.gpus.find((g) => g.address === '0000:00:02.0');
    expect(pf?.sriov).toEqual({
      totalVfs: 7,
      numVfs: 2,
      physfn: null,
      vfs: [
        { address: '0000:00:02.1', iommuGroup: 20, driver: 'vfio-pci' },
        { address: '0000:00:02.2', iommuGroup: 21, driver: null },
      ],
    });
    expect(a.gpus.find((g) => g.address === '0000:00:02.2')?.sriov).toMatchObject({ physfn: '0000:00:02.0', vfs: [] });
    const out = join(root, 'snap');
    await writeSnapshotDir(out, { root: src, runCommands: false });
    expect(await buildInventory({ root: out, live: false })).toEqual(a);
    // the plan read from the snapshot says what the live host's plan says about the keyboard and the root filesystem
    const { computePlan } = await import('../../../src/core/passthrough/plan');
    const { hostLossOf } = await import('../../../src/core/passthrough/host-loss');
    expect(await hostLossOf(out, '0000:00:14.0')).toEqual(await hostLossOf(src, '0000:00:14.0'));
    expect((await hostLossOf(out, '0000:00:1d.0')).map((l) => [l.what, l.fatal])).toEqual([['/dev/nvme0n1p2 mounted on /', true]]);
    expect(readFileSync(join(out, 'proc', 'mounts'), 'utf8')).not.toContain('tmpfs');
    expect((await computePlan(out, '0000:00:02.1')).physfn).toBe('0000:00:02.0');
  });
});
