import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { linkNameOrNull, readTrimmedOrNull } from '../util/fs-read';

/** One PCI function as sysfs (or a host snapshot mirroring `/`) describes it. Missing files read as null. */
export interface PciFunction {
  /** Full BDF, e.g. '0000:01:00.0'. */
  address: string;
  /** Four lowercase hex digits, e.g. '10de'; '' when the vendor file is missing or unreadable. */
  vendorId: string;
  deviceId: string;
  subsystemVendorId: string | null;
  subsystemDeviceId: string | null;
  /** Six lowercase hex digits, e.g. '030000'. */
  classCode: string;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  bootVga: boolean | null;
  numaNode: number | null;
  resetMethod: string[] | null;
  sriovTotalVfs: number | null;
  sriovNumVfs: number | null;
  /** PCI class 0x06xx (host/PCI bridge, root port, ...). */
  isBridge: boolean;
}

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;

/** True for a full, lowercase PCI address 'dddd:bb:dd.f' (domain, bus, device 00–1f, function 0–7). */
export function isValidBdf(s: string): boolean {
  return typeof s === 'string' && BDF.test(s);
}

export function pciDevicesDir(root: string): string {
  return join(root, 'sys', 'bus', 'pci', 'devices');
}

const readText = readTrimmedOrNull;

const readLinkName = linkNameOrNull;

function hexId(raw: string | null, digits: number): string | null {
  if (raw === null) return null;
  const m = /^(?:0x)?([0-9a-fA-F]+)$/.exec(raw.trim());
  if (!m?.[1]) return null;
  const v = m[1].toLowerCase();
  if (v.length > digits) return null;
  return v.padStart(digits, '0');
}

function intOrNull(raw: string | null): number | null {
  if (raw === null || !/^-?\d+$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

/** Reads one function's directory; null when it is not a readable PCI function (no class). Unknown ids are ''. */
export async function readPciFunction(root: string, address: string): Promise<PciFunction | null> {
  const dir = join(pciDevicesDir(root), address);
  const f = (name: string) => readText(join(dir, name));
  const [vendor, device, klass, sv, sd, drvOverride, bootVga, numa, reset, total, num] = await Promise.all([
    f('vendor'), f('device'), f('class'), f('subsystem_vendor'), f('subsystem_device'), f('driver_override'),
    f('boot_vga'), f('numa_node'), f('reset_method'), f('sriov_totalvfs'), f('sriov_numvfs'),
  ]);
  // A function whose class is readable is kept; a missing or unreadable vendor or device id is '' (unknown).
  const vendorId = hexId(vendor, 4) ?? '';
  const deviceId = hexId(device, 4) ?? '';
  const classCode = hexId(klass, 6);
  if (!classCode) return null;
  const [driver, groupName] = await Promise.all([readLinkName(join(dir, 'driver')), readLinkName(join(dir, 'iommu_group'))]);
  const numaNode = intOrNull(numa);
  const override = drvOverride === null || drvOverride === '' || drvOverride === '(null)' ? null : drvOverride;
  const resetMethod = reset === null ? null : reset.split(/\s+/).filter((s) => s.length > 0);
  return {
    address,
    vendorId,
    deviceId,
    subsystemVendorId: hexId(sv, 4),
    subsystemDeviceId: hexId(sd, 4),
    classCode,
    driver,
    driverOverride: override,
    iommuGroup: intOrNull(groupName),
    bootVga: bootVga === '1' ? true : bootVga === '0' ? false : null,
    // The kernel reports -1 when the platform has no NUMA information: that is "not said", so null.
    numaNode: numaNode !== null && numaNode >= 0 ? numaNode : null,
    resetMethod,
    sriovTotalVfs: intOrNull(total),
    sriovNumVfs: intOrNull(num),
    isBridge: classCode.startsWith('06'),
  };
}

/** Every PCI function under `<root>/sys/bus/pci/devices`, sorted by address. A missing tree yields []. */
export async function readPciFunctions(root: string): Promise<PciFunction[]> {
  let names: string[];
  try {
    names = await readdir(pciDevicesDir(root));
  } catch {
    return [];
  }
  const addresses = names.map((n) => n.toLowerCase()).filter(isValidBdf).sort();
  const fns = await Promise.all(addresses.map((a) => readPciFunction(root, a)));
  return fns.filter((f): f is PciFunction => f !== null);
}

/** IOMMU group number → member addresses (sorted), from `<root>/sys/kernel/iommu_groups`. Missing → empty map. */
export async function readIommuGroups(root: string): Promise<Map<number, string[]>> {
  const base = join(root, 'sys', 'kernel', 'iommu_groups');
  const out = new Map<number, string[]>();
  let groups: string[];
  try {
    groups = await readdir(base);
  } catch {
    return out;
  }
  const numbers = groups.filter((g) => /^\d+$/.test(g)).map((g) => Number.parseInt(g, 10)).sort((a, b) => a - b);
  await Promise.all(
    numbers.map(async (n) => {
      let members: string[] = [];
      try {
        members = (await readdir(join(base, String(n), 'devices'))).map((m) => m.toLowerCase()).filter(isValidBdf).sort();
      } catch {
        members = [];
      }
      out.set(n, members);
    }),
  );
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}
