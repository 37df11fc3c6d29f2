import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../../src/core/passthrough/checks';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';
import { B550, Z170, fixtureDevices } from './fixture-host';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gb-checks-'));
  dirs.push(d);
  return d;
}
const status = (checks: Array<{ id: string; status: string }>) => Object.fromEntries(checks.map((c) => [c.id, c.status]));

describe('preflight checks', () => {
  it('a well-prepared Intel host with the Z170 GTX 960 passes', async () => {
    const root = await tmp();
    await buildFakeSysfs(root, {
      devices: await fixtureDevices(Z170),
      modules: ['vfio', 'vfio_iommu_type1', 'vfio_pci'],
      cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt',
      cpuinfo: 'processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n',
      acpiTables: ['DMAR'],
    });
    const { checks } = await runChecks(root, '0000:01:00.0');
    expect(status(checks)).toEqual({
      'cpu-virtualization': 'pass',
      'firmware-iommu': 'pass',
      'kernel-iommu': 'pass',
      'iommu-pt': 'pass',
      'vfio-modules': 'pass',
      'acs-override': 'pass',
      'iommu-group': 'pass',
      'boot-vga': 'unknown',
      'gpu-holders': 'pass',
      reset: 'unknown',
    });
    const group = checks.find((c) => c.id === 'iommu-group');
    expect(group?.evidence.map((e) => e.value)).toContain('class 060400, driver pcieport (bridge, stays)');
  });

  it('an unprepared GRUB host: remedies name update-grub, the bad group names its members, holders are named', async () => {
    const root = await tmp();
    await buildFakeSysfs(root, {
      devices: (await fixtureDevices(B550)).map((d) => (d.address === '0000:04:00.0' ? { ...d, bootVga: true, resetMethod: 'bus' } : d)),
      cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 pcie_acs_override=downstream',
      cpuinfo: 'processor\t: 0\nflags\t\t: fpu sse2 svm\n',
    });
    await mkdir(join(root, 'etc', 'default'), { recursive: true });
    await writeFile(join(root, 'etc', 'default', 'grub'), 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n');
    await writeFile(join(root, 'etc', 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
    await mkdir(join(root, 'etc', 'initramfs-tools'), { recursive: true });
    await mkdir(join(root, 'proc', '4242', 'fd'), { recursive: true });
    await writeFile(join(root, 'proc', '4242', 'comm'), 'Xorg\n');
    await symlink('/dev/dri/card0', join(root, 'proc', '4242', 'fd', '7'));
    const { boot, checks } = await runChecks(root, '0000:04:00.0');
    expect(boot).toEqual({ distro: 'Debian GNU/Linux 12 (bookworm)', bootloader: 'grub', initramfs: 'initramfs-tools' });
    expect(status(checks)).toMatchObject({
      'cpu-virtualization': 'pass',
      'firmware-iommu': 'fail',
      'iommu-pt': 'warn',
      'vfio-modules': 'warn',
      'acs-override': 'warn',
      'iommu-group': 'fail',
      'boot-vga': 'warn',
      'gpu-holders': 'warn',
      reset: 'pass',
    });
    const by = (id: string) => checks.find((c) => c.id === id);
    expect(by('iommu-pt')?.remedy).toContain('update-grub');
    expect(by('vfio-modules')?.remedy).toContain('update-initramfs -u');
    expect(by('iommu-group')?.remedy).toContain('0000:02:00.0, 0000:02:00.1, 0000:2a:00.0');
    expect(by('gpu-holders')?.remedy).toContain('Xorg (pid 4242)');
  });

  it('missing files read as unknown or fail, never a crash', async () => {
    const { checks } = await runChecks(await tmp(), '0000:01:00.0');
    expect(status(checks)).toMatchObject({ 'cpu-virtualization': 'unknown', 'kernel-iommu': 'fail', 'iommu-group': 'fail' });
  });
});
