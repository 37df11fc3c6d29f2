import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyPersistent, undoPersistent } from '../../../src/core/passthrough/persist-apply';
import { persistRefusal, planPersistentSetup, unifiedDiff } from '../../../src/core/passthrough/persistent';
import { computePlan } from '../../../src/core/passthrough/plan';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';
import { B550, Z170, fixtureDevices } from './fixture-host';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('persistent setup: what a boot-time vfio-pci.ids line cannot do', () => {
  it('refuses when the ids would also take a device the plan does not move (a second, identical GPU), and a VF; allows a plan whose ids are its own', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gb-persist-ids-'));
    dirs.push(root);
    await buildFakeSysfs(root, {
      devices: [
        { address: '0000:01:00.0', vendor: '10de', device: '2684', class: '030000', driver: 'nvidia', iommuGroup: 14 },
        { address: '0000:01:00.1', vendor: '10de', device: '22ba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 14 },
        { address: '0000:02:00.0', vendor: '10de', device: '2684', class: '030000', driver: 'nvidia', iommuGroup: 15 },
        { address: '0000:02:00.1', vendor: '10de', device: '22ba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 15 },
        { address: '0000:00:02.0', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 0, sriovTotalVfs: 7 },
        { address: '0000:00:02.1', vendor: '8086', device: '46a6', class: '030000', iommuGroup: 20, physfn: '0000:00:02.0' },
        { address: '0000:03:00.0', vendor: '1002', device: '73bf', class: '030000', driver: 'amdgpu', iommuGroup: 16 },
      ],
    });
    const twin = await persistRefusal(root, await computePlan(root, '0000:01:00.0'));
    expect(twin).toContain('0000:02:00.0 (10de:2684, nvidia), 0000:02:00.1 (10de:22ba, snd_hda_intel) has the same id');
    expect(await persistRefusal(root, await computePlan(root, '0000:00:02.1'))).toMatch(/virtual function of 0000:00:02\.0: it exists only once the VFs are enabled/);
    expect(await persistRefusal(root, await computePlan(root, '0000:03:00.0'))).toBeNull();
  });
});

describe('persistent setup', () => {
  it('Debian + GRUB + initramfs-tools, Z170 GTX 960: dry-run diff, apply with backups, undo byte for byte', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gb-persist-'));
    dirs.push(root);
    await buildFakeSysfs(root, { devices: await fixtureDevices(Z170), cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet', cpuinfo: 'flags\t: vmx\n' });
    const grub = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\nGRUB_CMDLINE_LINUX=""\n';
    const modules = '# List of modules\r\nloop\r\n'; // CRLF and no vfio: undo must give back exactly these bytes
    await mkdir(join(root, 'etc', 'default'), { recursive: true });
    await mkdir(join(root, 'etc', 'initramfs-tools'), { recursive: true });
    await writeFile(join(root, 'etc', 'default', 'grub'), grub);
    await writeFile(join(root, 'etc', 'initramfs-tools', 'modules'), modules);
    await writeFile(join(root, 'etc', 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\n');

    const setup = await planPersistentSetup(root, await computePlan(root, '0000:01:00.0'));
    expect(setup.kernelParams).toEqual(['intel_iommu=on', 'iommu=pt']);
    expect(setup.commands).toEqual([['update-grub'], ['update-initramfs', '-u']]);
    const byPath = Object.fromEntries(setup.changes.map((c) => [c.path, c]));
    expect(byPath['/etc/default/grub']?.after).toContain('GRUB_CMDLINE_LINUX_DEFAULT="quiet splash intel_iommu=on iommu=pt"');
    expect(byPath['/etc/modprobe.d/gpu-bridge-vfio.conf']?.after).toContain('options vfio-pci ids=10de:1401,10de:0fba\nsoftdep nouveau pre: vfio-pci\nsoftdep snd_hda_intel pre: vfio-pci\n');
    const diff = unifiedDiff(byPath['/etc/default/grub']!);
    expect(diff).toContain('-GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n+GRUB_CMDLINE_LINUX_DEFAULT="quiet splash intel_iommu=on iommu=pt"');
    expect(unifiedDiff(byPath['/etc/modprobe.d/gpu-bridge-vfio.conf']!)).toMatch(/^--- \/dev\/null\n\+\+\+ b\/etc\/modprobe.d\/gpu-bridge-vfio.conf\n/);

    // dry run wrote nothing
    expect(await readFile(join(root, 'etc', 'default', 'grub'), 'utf8')).toBe(grub);

    await applyPersistent(root, setup, '0000:01:00.0');
    expect(await readFile(join(root, 'etc', 'default', 'grub'), 'utf8')).toContain('intel_iommu=on');
    expect(await readFile(join(root, 'etc', 'initramfs-tools', 'modules'), 'utf8')).toMatch(/vfio\nvfio_iommu_type1\nvfio_pci\n$/);
    await undoPersistent(root);
    expect(await readFile(join(root, 'etc', 'default', 'grub'))).toEqual(Buffer.from(grub));
    expect(await readFile(join(root, 'etc', 'initramfs-tools', 'modules'))).toEqual(Buffer.from(modules));
    await expect(readFile(join(root, 'etc', 'modprobe.d', 'gpu-bridge-vfio.conf'))).rejects.toThrow();
  });

  it('AMD + systemd-boot + dracut, B550 RTX 2070 SUPER: loader entries, dracut conf, all four ids', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gb-persist-'));
    dirs.push(root);
    await buildFakeSysfs(root, { devices: await fixtureDevices(B550), cmdline: 'root=/dev/nvme0n1p2 rw amd_iommu=on', cpuinfo: 'flags\t: svm\n' });
    await mkdir(join(root, 'boot', 'loader', 'entries'), { recursive: true });
    await writeFile(join(root, 'boot', 'loader', 'entries', 'arch.conf'), 'title Arch\nlinux /vmlinuz-linux\noptions root=/dev/nvme0n1p2 rw amd_iommu=on\n');
    await mkdir(join(root, 'etc', 'dracut.conf.d'), { recursive: true });
    const setup = await planPersistentSetup(root, await computePlan(root, '0000:2b:00.0'));
    expect(setup.boot).toMatchObject({ bootloader: 'systemd-boot', initramfs: 'dracut' });
    expect(setup.kernelParams).toEqual(['iommu=pt']);
    const entry = setup.changes.find((c) => c.path === '/boot/loader/entries/arch.conf');
    expect(entry?.after).toContain('options root=/dev/nvme0n1p2 rw amd_iommu=on iommu=pt\n');
    expect(setup.changes.find((c) => c.path.endsWith('gpu-bridge-vfio.conf') && c.path.startsWith('/etc/modprobe.d'))?.after).toContain('ids=10de:1e84,10de:10f8,10de:1ad8,10de:1ad9');
    expect(setup.commands).toEqual([['dracut', '-f']]);
  });
});
