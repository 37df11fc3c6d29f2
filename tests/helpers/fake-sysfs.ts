import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative, dirname } from 'node:path';

export interface FakePciDevice {
  address: string;
  vendor: string;
  device: string;
  class: string;
  driver?: string;
  iommuGroup?: number;
  bootVga?: boolean;
  subsystemVendor?: string;
  subsystemDevice?: string;
  resetMethod?: string;
  sriovTotalVfs?: number;
  numaNode?: number;
  driverOverride?: string;
  /** This function is an SR-IOV VF of that PF: `physfn` here, `virtfnN` there (N in listing order). */
  physfn?: string;
  /** Extra files under the device's own directory (path relative to it → content), e.g. its USB tree. */
  files?: Record<string, string>;
  /**
   * The bridges above it, root port first, as the kernel nests the real directories:
   * sys/devices/pciDDDD:BB/<parents...>/<BDF>. Without it the function sits flat under sys/devices/pci0000:00.
   */
  parents?: string[];
}

export interface FakeSysfsSpec {
  devices: FakePciDevice[];
  modules?: string[];
  cmdline?: string;
  cpuinfo?: string;
  acpiTables?: string[];
  /** Extra files relative to the root (e.g. 'proc/mounts', 'proc/net/route'). */
  files?: Record<string, string>;
}

function hex(v: string): string {
  return v.startsWith('0x') ? v : `0x${v}`;
}

async function relSymlink(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

/**
 * Writes a tree under `root` that mirrors `/` the way the kernel lays it out (see DESIGN.md's host
 * snapshot): sys/bus/pci/devices/<BDF>/..., driver and iommu_group as symlinks, group entries under
 * sys/kernel/iommu_groups/N/devices/, sys/module/<name>/, ACPI tables, proc/cmdline and proc/cpuinfo.
 */
export async function buildFakeSysfs(root: string, spec: FakeSysfsSpec): Promise<void> {
  const devicesDir = join(root, 'sys', 'bus', 'pci', 'devices');
  const realDirOf = (address: string): string => {
    const d = spec.devices.find((x) => x.address === address);
    const chain = d?.parents ?? [];
    return chain.length === 0 ? join(root, 'sys', 'devices', 'pci0000:00', address) : join(root, 'sys', 'devices', `pci${(chain[0] as string).slice(0, 7)}`, ...chain, address);
  };
  await mkdir(devicesDir, { recursive: true });
  for (const d of spec.devices) {
    const real = realDirOf(d.address);
    await mkdir(real, { recursive: true });
    await relSymlink(real, join(devicesDir, d.address));
    const w = (name: string, value: string) => writeFile(join(real, name), `${value}\n`);
    await w('vendor', hex(d.vendor));
    await w('device', hex(d.device));
    await w('class', hex(d.class.length === 4 ? `${d.class}00` : d.class));
    if (d.subsystemVendor !== undefined) await w('subsystem_vendor', hex(d.subsystemVendor));
    if (d.subsystemDevice !== undefined) await w('subsystem_device', hex(d.subsystemDevice));
    if (d.bootVga !== undefined) await w('boot_vga', d.bootVga ? '1' : '0');
    if (d.resetMethod !== undefined) await w('reset_method', d.resetMethod);
    if (d.sriovTotalVfs !== undefined) {
      await w('sriov_totalvfs', String(d.sriovTotalVfs));
      await w('sriov_numvfs', '0');
    }
    await w('numa_node', String(d.numaNode ?? -1));
    await w('driver_override', d.driverOverride ?? '(null)');
    if (d.driver !== undefined) {
      const drv = join(root, 'sys', 'bus', 'pci', 'drivers', d.driver);
      await mkdir(drv, { recursive: true });
      await relSymlink(drv, join(real, 'driver'));
    }
    if (d.iommuGroup !== undefined) {
      const group = join(root, 'sys', 'kernel', 'iommu_groups', String(d.iommuGroup));
      await mkdir(join(group, 'devices'), { recursive: true });
      await relSymlink(group, join(real, 'iommu_group'));
      await relSymlink(real, join(group, 'devices', d.address));
    }
  }
  const vfCount = new Map<string, number>();
  for (const d of spec.devices) {
    if (d.physfn === undefined) continue;
    const n = vfCount.get(d.physfn) ?? 0;
    vfCount.set(d.physfn, n + 1);
    await relSymlink(realDirOf(d.physfn), join(realDirOf(d.address), 'physfn'));
    await relSymlink(realDirOf(d.address), join(realDirOf(d.physfn), `virtfn${n}`));
  }
  for (const [pf, n] of vfCount) await writeFile(join(realDirOf(pf), 'sriov_numvfs'), `${n}\n`);
  for (const d of spec.devices) {
    for (const [rel, content] of Object.entries(d.files ?? {})) {
      await mkdir(dirname(join(realDirOf(d.address), rel)), { recursive: true });
      await writeFile(join(realDirOf(d.address), rel), content);
    }
  }
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), content);
  }
  for (const m of spec.modules ?? []) await mkdir(join(root, 'sys', 'module', m), { recursive: true });
  for (const t of spec.acpiTables ?? []) {
    await mkdir(join(root, 'sys', 'firmware', 'acpi', 'tables'), { recursive: true });
    await writeFile(join(root, 'sys', 'firmware', 'acpi', 'tables', t), 'fake');
  }
  if (spec.cmdline !== undefined || spec.cpuinfo !== undefined) await mkdir(join(root, 'proc'), { recursive: true });
  if (spec.cmdline !== undefined) await writeFile(join(root, 'proc', 'cmdline'), `${spec.cmdline}\n`);
  if (spec.cpuinfo !== undefined) await writeFile(join(root, 'proc', 'cpuinfo'), spec.cpuinfo);
}
