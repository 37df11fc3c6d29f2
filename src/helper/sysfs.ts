// Reads the PCI topology under a root that mirrors `/` and computes, by itself, the set of devices a
// GPU passthrough may touch. Only node: built-ins: this file runs as root.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cardMembers, isHostCritical } from './card';

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
  vendor: string;
  /** The physical function when this is an SR-IOV virtual function. */
  physfn: string | null;
  driver: string | null;
  group: number | null;
  isBridge: boolean;
}

export interface HelperPlan {
  target: string;
  groups: number[];
  /** Non-bridge members of the groups that move (the target's, its own audio's, the extras'): what moves to vfio-pci. */
  devices: HelperDevice[];
  /** The extra functions asked for, as checked. */
  extras: string[];
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

/** The PCI address a symlink points at (`physfn`, `virtfnN`), only when its last component is a full BDF. */
export function linkBdf(path: string): string | null {
  try {
    const name = basename(readlinkSync(path));
    return BDF_RE.test(name) ? name : null;
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
  const vendor = /^(?:0x)?([0-9a-fA-F]{4})$/.exec(readTrim(join(dir, 'vendor')) ?? '')?.[1]?.toLowerCase() ?? '';
  // linkName refuses ':' (its names are drivers and group numbers): a BDF link has its own reader
  const physfn = linkBdf(join(dir, 'physfn'));
  return { address: bdf, classCode, vendor, physfn, driver: linkName(join(dir, 'driver')), group, isBridge: classCode.startsWith('06') };
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

/**
 * The helper's own plan, the smallest correct set: the target (a display controller, or an SR-IOV
 * virtual function) and every non-bridge member of its IOMMU group; the GPU's own audio (a function of
 * its card: same slot, or behind the card's own switch; same vendor) with its group when that group
 * holds nothing else; and each extra asked for, which must be another function of the GPU's card, not
 * host-critical (unless `restoring` what a bind took), with its group. Bridges stay. Any member that is
 * not a function of the card (for a VF: not the VF itself) makes the plan unsafe and is refused.
 */
export function computePlan(root: string, target: string, extras: readonly string[] = [], options: { restoring?: boolean } = {}): HelperPlan {
  checkBdf(target, 'target');
  for (const e of extras) checkBdf(e, 'extra device');
  const gpu = readDevice(root, target);
  if (!gpu) throw new Refusal(`no PCI device ${target} on this host`);
  const isVf = gpu.physfn !== null;
  if (!gpu.classCode.startsWith('03') && !isVf) throw new Refusal(`${target} is not a display controller (class ${gpu.classCode}) nor a virtual function; only GPUs and VFs are handed over`);
  if (gpu.group === null) throw new Refusal(`${target} has no IOMMU group: the IOMMU is off (enable it in firmware and on the kernel command line)`);
  let names: string[] = [];
  try {
    names = readdirSync(devicesDir(root));
  } catch {
    names = [];
  }
  const all = isVf ? [] : names.filter((n) => BDF_RE.test(n)).map((n) => readDevice(root, n)).filter((d): d is HelperDevice => d !== null && d.physfn !== target);
  const members = isVf ? new Set<string>() : cardMembers(root, gpu, all);
  const inCard = (bdf: string) => bdf === target || members.has(bdf);
  const siblings = all.filter((d) => members.has(d.address));
  const cleanGroup = (g: number) => groupMembers(root, g).every((m) => inCard(m) || readDevice(root, m)?.isBridge === true);
  const groups = new Set<number>([gpu.group]);
  for (const s of siblings) {
    if (s.group !== null && /^040[13]/.test(s.classCode) && s.vendor !== '' && s.vendor === gpu.vendor && cleanGroup(s.group)) groups.add(s.group);
  }
  for (const e of extras) {
    const d = siblings.find((s) => s.address === e);
    if (!d) throw new Refusal(`${e} is not an optional function of ${target}'s card: only other functions of its slot, or behind the card's own switch, can be added`);
    if (d.group === null) throw new Refusal(`${e} has no IOMMU group and cannot be passed through`);
    if (!options.restoring && !groups.has(d.group) && isHostCritical(d.classCode)) throw new Refusal(`${e} (class ${d.classCode}) is a function the host's platform needs: it is never taken as an extra`);
    groups.add(d.group);
  }
  const devices: HelperDevice[] = [];
  const bridges: string[] = [];
  const strangers: string[] = [];
  for (const g of [...groups].sort((a, b) => a - b)) {
    for (const member of groupMembers(root, g)) {
      const d = readDevice(root, member);
      if (!d) throw new Refusal(`IOMMU group ${g} lists ${member}, which cannot be read`);
      if (d.isBridge) bridges.push(member);
      else if (!inCard(member)) strangers.push(`${member} (class ${d.classCode}, driver ${d.driver ?? 'none'})`);
      else devices.push(d);
    }
  }
  if (strangers.length > 0) {
    throw new Refusal(`IOMMU group of ${target} is shared with devices that are not the GPU's own functions: ${strangers.join(', ')}`);
  }
  devices.sort((a, b) => a.address.localeCompare(b.address));
  return { target, groups: [...groups].sort((a, b) => a - b), devices, extras: [...extras], bridges };
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
