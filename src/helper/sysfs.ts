// Reads the PCI topology under a root that mirrors `/` and computes, by itself, the set of devices a
// GPU passthrough may touch. Only node: built-ins: this file runs as root.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Full, lowercase PCI address: domain, bus, device 00-1f, function 0-7. Nothing else is ever accepted. */
export const BDF_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export class Refusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Refusal';
  }
}

export interface HelperDevice {
  address: string;
  classCode: string;
  driver: string | null;
  group: number | null;
  isBridge: boolean;
}

export interface HelperPlan {
  target: string;
  groups: number[];
  /** Non-bridge members of the groups, all functions of the target's slot: what moves to vfio-pci. */
  devices: HelperDevice[];
  bridges: string[];
}

export function checkBdf(value: unknown, what = 'address'): string {
  if (typeof value !== 'string' || value.length > 12 || !BDF_RE.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new Refusal(`${what} ${shown} is not a PCI address of the form 0000:01:00.0`);
  }
  return value;
}

export function devicesDir(root: string): string {
  return join(root, 'sys', 'bus', 'pci', 'devices');
}

export function deviceDir(root: string, bdf: string): string {
  return join(devicesDir(root), checkBdf(bdf));
}

function readTrim(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The last component of a symlink, only when it is a plain name (never '..', never a path). */
export function linkName(path: string): string | null {
  try {
    const name = basename(readlinkSync(path));
    return NAME_RE.test(name) && name !== '..' ? name : null;
  } catch {
    return null;
  }
}

export function readDevice(root: string, bdf: string): HelperDevice | null {
  const dir = deviceDir(root, bdf);
  try {
    lstatSync(dir);
  } catch {
    return null;
  }
  const raw = readTrim(join(dir, 'class'));
  const m = raw === null ? null : /^(?:0x)?([0-9a-fA-F]{6})$/.exec(raw);
  if (!m?.[1]) return null;
  const classCode = m[1].toLowerCase();
  const groupName = linkName(join(dir, 'iommu_group'));
  const group = groupName !== null && /^\d{1,6}$/.test(groupName) ? Number(groupName) : null;
  return { address: bdf, classCode, driver: linkName(join(dir, 'driver')), group, isBridge: classCode.startsWith('06') };
}

export function groupMembers(root: string, group: number): string[] {
  try {
    return readdirSync(join(root, 'sys', 'kernel', 'iommu_groups', String(group), 'devices'))
      .filter((name) => BDF_RE.test(name))
      .sort();
  } catch {
    return [];
  }
}

function slotOf(bdf: string): string {
  return bdf.slice(0, bdf.lastIndexOf('.'));
}

/**
 * The helper's own plan: the target must be a display controller with an IOMMU group; every function
 * of its slot and every member of their groups is examined; bridges stay where they are; any other
 * member that is not a function of the GPU's own slot makes the plan unsafe and is refused.
 */
export function computePlan(root: string, target: string): HelperPlan {
  checkBdf(target, 'target');
  const gpu = readDevice(root, target);
  if (!gpu) throw new Refusal(`no PCI device ${target} on this host`);
  if (!gpu.classCode.startsWith('03')) throw new Refusal(`${target} is not a display controller (class ${gpu.classCode}); only GPUs are handed over`);
  if (gpu.group === null) throw new Refusal(`${target} has no IOMMU group: the IOMMU is off (enable it in firmware and on the kernel command line)`);
  let names: string[] = [];
  try {
    names = readdirSync(devicesDir(root));
  } catch {
    names = [];
  }
  const slot = slotOf(target);
  const siblings = names.filter((n) => BDF_RE.test(n) && slotOf(n) === slot);
  const groups = new Set<number>([gpu.group]);
  for (const s of siblings) {
    const d = readDevice(root, s);
    if (d?.group !== null && d?.group !== undefined) groups.add(d.group);
  }
  const devices: HelperDevice[] = [];
  const bridges: string[] = [];
  const strangers: string[] = [];
  for (const g of [...groups].sort((a, b) => a - b)) {
    for (const member of groupMembers(root, g)) {
      const d = readDevice(root, member);
      if (!d) throw new Refusal(`IOMMU group ${g} lists ${member}, which cannot be read`);
      if (d.isBridge) bridges.push(member);
      else if (slotOf(member) !== slot) strangers.push(`${member} (class ${d.classCode}, driver ${d.driver ?? 'none'})`);
      else devices.push(d);
    }
  }
  if (strangers.length > 0) {
    throw new Refusal(`IOMMU group of ${target} is shared with devices that are not the GPU's own functions: ${strangers.join(', ')}`);
  }
  devices.sort((a, b) => a.address.localeCompare(b.address));
  return { target, groups: [...groups].sort((a, b) => a - b), devices, bridges };
}

export function existsPath(path: string): boolean {
  return existsSync(path);
}

/** PIDs (with their command) holding `/dev/vfio/<group>` open, from `<root>/proc/<pid>/fd`. */
export function vfioHolders(root: string, group: number): Array<{ pid: number; command: string }> {
  const want = `/dev/vfio/${group}`;
  const out: Array<{ pid: number; command: string }> = [];
  let pids: string[] = [];
  try {
    pids = readdirSync(join(root, 'proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(join(root, 'proc', pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(join(root, 'proc', pid, 'fd', fd));
      } catch {
        continue;
      }
      if (target === want) {
        const command = (readTrim(join(root, 'proc', pid, 'comm')) ?? '?').slice(0, 64);
        out.push({ pid: Number(pid), command });
        break;
      }
    }
  }
  return out;
}
