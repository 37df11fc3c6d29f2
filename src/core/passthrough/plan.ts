import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidBdf, readIommuGroups, readPciFunctions, type PciFunction } from '../inventory/pci';
import { readSriovLinks } from '../inventory/sriov';
import { defaultRouteIfaces, hostLossOf, readMounts, type Evidence, type HostLoss } from './host-loss';

export type DeviceRole = 'gpu' | 'audio' | 'usb' | 'serial' | 'storage' | 'network' | 'crypto' | 'other';

export interface PlanDevice {
  address: string;
  driver: string | null;
  role: DeviceRole;
}

/** A function of the GPU's slot in another IOMMU group: it stays on the host unless asked for (`with`). */
export interface PlanOptional {
  address: string;
  role: DeviceRole;
  group: number | null;
  driver: string | null;
  reason: string;
  /** What the host would lose with it (input devices, mounted filesystems, the default route). */
  hostLoss: string[];
}

export interface PlanFinding {
  code: string;
  message: string;
  devices: string[];
  /** The files (and their values) the finding was read from, where there are any. */
  evidence?: Evidence[];
}

export interface PassthroughPlan {
  target: string;
  viable: boolean;
  /** Every function that must move to vfio-pci: the target's group(s), its audio, and what was asked for. */
  devices: PlanDevice[];
  /** Functions of the same slot in other groups, which stay on the host unless asked for. */
  optional: PlanOptional[];
  /** The extra functions asked for (`with`), as given. */
  with: string[];
  /** The physical function when the target is an SR-IOV virtual function (it keeps its driver). */
  physfn: string | null;
  blockers: PlanFinding[];
  warnings: PlanFinding[];
}

export interface PlanOptions {
  /** Optional functions of the slot to move as well (each must be one of the plan's `optional`). */
  with?: readonly string[];
}

export function roleOf(fn: Pick<PciFunction, 'classCode'>): DeviceRole {
  const c = fn.classCode;
  if (c.startsWith('03')) return 'gpu';
  if (c.startsWith('0403') || c.startsWith('0401')) return 'audio';
  if (c.startsWith('0c03')) return 'usb';
  if (c.startsWith('0c80') || c.startsWith('0c05') || c.startsWith('07')) return 'serial';
  if (c.startsWith('01')) return 'storage';
  if (c.startsWith('02')) return 'network';
  if (c.startsWith('10')) return 'crypto';
  return 'other';
}

const ROLE_WORDS: Record<DeviceRole, string> = {
  gpu: 'a display controller',
  audio: 'an audio device',
  usb: 'a USB controller',
  serial: 'a serial bus controller',
  storage: 'a storage controller',
  network: 'a network controller',
  crypto: 'an encryption controller',
  other: 'a device',
};

function slotOf(bdf: string): string {
  return bdf.slice(0, bdf.lastIndexOf('.'));
}

function describe(fn: PciFunction): string {
  return `${fn.address} (class ${fn.classCode}, ${fn.driver ?? 'no driver'})`;
}

/** AMD GPU device ids of the families with the well-known reset bug (Polaris, Vega, Navi 10/14). */
const AMD_RESET_BUG = /^(67[cdef][0-9a-f]|699f|687f|6863|66a[0-7f]|731[0-9a-f]|734[0-9a-f])$/;

export async function readCmdline(root: string): Promise<string | null> {
  try {
    return (await readFile(join(root, 'proc', 'cmdline'), 'utf8')).trim();
  } catch {
    return null;
  }
}

/**
 * What passing `target` through takes on the host under `root` (`/` or a snapshot): every function
 * that must move to vfio-pci (the target's IOMMU group, the GPU's own audio, and the extras asked for
 * in `options.with`), the other functions of its slot that stay unless asked for, what blocks it and
 * what the host would lose. Reads only.
 */
export async function computePlan(root: string, target: string, options: PlanOptions = {}): Promise<PassthroughPlan> {
  const extras = [...new Set(options.with ?? [])];
  const plan: PassthroughPlan = { target, viable: false, devices: [], optional: [], with: extras, physfn: null, blockers: [], warnings: [] };
  if (!isValidBdf(target)) {
    plan.blockers.push({ code: 'BAD_ADDRESS', message: `${JSON.stringify(target.slice(0, 40))} is not a PCI address like 0000:01:00.0`, devices: [] });
    return plan;
  }
  const badExtras = extras.filter((a) => !isValidBdf(a));
  if (badExtras.length > 0) {
    plan.blockers.push({ code: 'BAD_ADDRESS', message: `${badExtras.map((a) => JSON.stringify(a.slice(0, 40))).join(', ')} is not a PCI address like 0000:01:00.1`, devices: [] });
    return plan;
  }
  const [fns, groups, cmdline, links] = await Promise.all([readPciFunctions(root), readIommuGroups(root), readCmdline(root), readSriovLinks(root, target)]);
  const byAddress = new Map(fns.map((f) => [f.address, f]));
  const gpu = byAddress.get(target);
  if (!gpu) {
    plan.blockers.push({ code: 'NOT_FOUND', message: `no PCI device ${target} on this host`, devices: [target] });
    return plan;
  }
  plan.physfn = links.physfn;
  const isVf = links.physfn !== null;
  if (!gpu.classCode.startsWith('03') && !isVf) {
    plan.blockers.push({ code: 'NOT_A_GPU', message: `${target} is not a display controller (class ${gpu.classCode}) nor an SR-IOV virtual function`, devices: [target] });
    return plan;
  }
  if (gpu.iommuGroup === null) {
    plan.blockers.push({
      code: 'NO_IOMMU_GROUP',
      message: `${target} has no IOMMU group: the IOMMU is off. Enable VT-d/AMD-Vi in the firmware and intel_iommu=on (Intel) on the kernel command line`,
      devices: [target],
    });
    return plan;
  }
  const slot = slotOf(target);
  // A VF's companions are not its own: the PF and the other VFs of the slot keep their drivers.
  const ownVfs = new Set(links.virtfns);
  const siblings = isVf ? [] : fns.filter((f) => slotOf(f.address) === slot && f.address !== target && !f.isBridge && !ownVfs.has(f.address));
  const inSlot = (address: string) => (isVf ? address === target : slotOf(address) === slot);
  const outsiders = (g: number) => (groups.get(g) ?? []).filter((m) => !inSlot(m) && byAddress.get(m)?.isBridge === false);

  const moveGroups = new Set<number>([gpu.iommuGroup]);
  const optionalReasons = new Map<string, string>();
  for (const f of siblings) {
    if (f.iommuGroup !== null && moveGroups.has(f.iommuGroup)) continue;
    if (f.iommuGroup === null) {
      optionalReasons.set(f.address, `${ROLE_WORDS[roleOf(f)]} of the same card with no IOMMU group: it cannot be passed through`);
      continue;
    }
    const strangers = outsiders(f.iommuGroup);
    // The GPU's own HDMI/DP audio has the GPU's vendor; an APU's slot also holds the chipset's analog audio (another vendor), which stays.
    if (roleOf(f) === 'audio' && f.vendorId !== '' && f.vendorId === gpu.vendorId && strangers.length === 0) {
      moveGroups.add(f.iommuGroup);
      continue;
    }
    optionalReasons.set(
      f.address,
      strangers.length > 0
        ? `${ROLE_WORDS[roleOf(f)]} in IOMMU group ${f.iommuGroup}, which also holds ${strangers.join(', ')}: adding it would take them too`
        : `${ROLE_WORDS[roleOf(f)]} in its own IOMMU group (${f.iommuGroup}), apart from the GPU's: it stays on the host unless you add it`,
    );
  }
  for (const extra of extras) {
    const fn = byAddress.get(extra);
    if (fn?.iommuGroup !== null && fn?.iommuGroup !== undefined && moveGroups.has(fn.iommuGroup)) continue;
    if (!optionalReasons.has(extra) || !fn) {
      plan.blockers.push({
        code: 'NOT_OPTIONAL',
        message: `${extra} is not an optional function of ${target}'s card${optionalReasons.size > 0 ? `; the ones that can be added are ${[...optionalReasons.keys()].join(', ')}` : ': there is none to add'}`,
        devices: [extra],
      });
      continue;
    }
    if (fn.iommuGroup === null) {
      plan.blockers.push({ code: 'FUNCTION_WITHOUT_GROUP', message: `${extra} has no IOMMU group and cannot be passed through`, devices: [extra] });
      continue;
    }
    moveGroups.add(fn.iommuGroup);
    optionalReasons.delete(extra);
  }

  const strangers: PciFunction[] = [];
  for (const g of [...moveGroups].sort((a, b) => a - b)) {
    for (const member of groups.get(g) ?? []) {
      const fn = byAddress.get(member);
      if (!fn || fn.isBridge || plan.devices.some((d) => d.address === member)) continue;
      plan.devices.push({ address: fn.address, driver: fn.driver, role: roleOf(fn) });
      if (!inSlot(fn.address)) strangers.push(fn);
      optionalReasons.delete(fn.address);
    }
  }
  plan.devices.sort((a, b) => a.address.localeCompare(b.address));

  const mounts = await readMounts(root);
  const routes = await defaultRouteIfaces(root);
  const losses = new Map<string, HostLoss[]>();
  const lossOf = async (address: string) => {
    if (!losses.has(address)) losses.set(address, await hostLossOf(root, address, { mounts, routes }));
    return losses.get(address) as HostLoss[];
  };
  for (const [address, reason] of [...optionalReasons.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const fn = byAddress.get(address) as PciFunction;
    plan.optional.push({ address, role: roleOf(fn), group: fn.iommuGroup, driver: fn.driver, reason, hostLoss: (await lossOf(address)).map((l) => l.what) });
  }

  if (strangers.length > 0) {
    plan.blockers.push({
      code: 'GROUP_SHARED',
      message: `the IOMMU group that must move is shared with devices that are not the GPU's own functions; they would have to leave the host too: ${strangers.map(describe).join(', ')}`,
      devices: strangers.map((f) => f.address).sort(),
    });
  }
  await hostLossFindings(plan, fns, lossOf);

  if (gpu.resetMethod !== null && gpu.resetMethod.length === 0) {
    plan.warnings.push({ code: 'NO_RESET', message: `${target} offers no reset method: it may not come back until the host reboots`, devices: [target] });
  }
  if (gpu.vendorId === '1002' && AMD_RESET_BUG.test(gpu.deviceId)) {
    plan.warnings.push({
      code: 'AMD_RESET_BUG',
      message: `${target} (AMD ${gpu.deviceId}) belongs to a family with the reset bug: install the vendor-reset module (gnif/vendor-reset) before passing it through`,
      devices: [target],
    });
  }
  if (cmdline !== null && /(^|\s)pcie_acs_override=/.test(cmdline)) {
    plan.warnings.push({ code: 'ACS_OVERRIDE', message: 'pcie_acs_override is on the kernel command line: the IOMMU groups are split by a patch, isolation is not guaranteed', devices: [] });
  }
  if (!isVf && gpu.sriovTotalVfs !== null && gpu.sriovTotalVfs > 0) {
    const vfs = links.virtfns;
    plan.warnings.push({
      code: 'SRIOV_AVAILABLE',
      message:
        vfs.length > 0
          ? `${target} has ${vfs.length} of ${gpu.sriovTotalVfs} virtual functions enabled (${vfs.join(', ')}): pass one of them through instead and the host keeps the GPU`
          : `${target} supports SR-IOV (${gpu.sriovTotalVfs} virtual functions): enable them and pass one through instead while the host keeps the GPU`,
      devices: [target, ...vfs],
    });
  }
  if (isVf) {
    plan.warnings.push({ code: 'VIRTUAL_FUNCTION', message: `${target} is a virtual function of ${links.physfn}: only it moves, ${links.physfn} keeps its driver (${byAddress.get(links.physfn as string)?.driver ?? 'none'})`, devices: [target] });
  }
  plan.viable = plan.blockers.length === 0;
  return plan;
}

/** Warnings (and a blocker for the root filesystem) naming what the host loses with the devices that move. */
async function hostLossFindings(plan: PassthroughPlan, fns: PciFunction[], lossOf: (address: string) => Promise<HostLoss[]>): Promise<void> {
  const moving = new Set(plan.devices.map((d) => d.address));
  const pciFile = (address: string, name: string) => `/sys/bus/pci/devices/${address}/${name}`;
  for (const fn of fns) {
    if (moving.has(fn.address) && fn.bootVga === true) {
      plan.warnings.push({
        code: 'BOOT_VGA',
        message: `${fn.address} is the boot/primary display: the host's console and login screen go dark while it is passed through`,
        devices: [fn.address],
        evidence: [{ file: pciFile(fn.address, 'boot_vga'), value: '1' }],
      });
    }
  }
  const displays = fns.filter((f) => f.classCode.startsWith('03'));
  const left = displays.filter((f) => !moving.has(f.address) && f.driver !== null && f.driver !== 'vfio-pci');
  const takenOnDriver = displays.filter((f) => moving.has(f.address) && f.driver !== null && f.driver !== 'vfio-pci');
  if (left.length === 0 && takenOnDriver.length > 0) {
    plan.warnings.push({
      code: 'LAST_DISPLAY',
      message: `${takenOnDriver.map((f) => `${f.address} (${f.driver})`).join(', ')} is the only display controller on a driver: after this the host has no display until it is restored${displays.length > takenOnDriver.length ? ` (the others: ${displays.filter((f) => !moving.has(f.address)).map((f) => `${f.address} on ${f.driver ?? 'no driver'}`).join(', ')})` : ''}`,
      devices: takenOnDriver.map((f) => f.address),
      evidence: displays.map((f) => ({ file: pciFile(f.address, 'driver'), value: `${f.driver ?? '(none)'}${moving.has(f.address) ? ' (moves)' : ''}` })),
    });
  }
  for (const address of [...moving].sort()) {
    const losses = await lossOf(address);
    const byKind = (kind: HostLoss['kind']) => losses.filter((l) => l.kind === kind);
    const inputs = byKind('input');
    if (inputs.length > 0) {
      plan.warnings.push({
        code: 'HOST_LOSES_INPUT',
        message: `${address} has input devices behind it: ${inputs.map((l) => l.what).join(', ')}. The host loses them (its keyboard or mouse, perhaps) while it is passed through`,
        devices: [address],
        evidence: inputs.flatMap((l) => l.evidence),
      });
    }
    const storage = byKind('storage');
    if (storage.length > 0) {
      const fatal = storage.filter((l) => l.fatal);
      const finding = {
        code: fatal.length > 0 ? 'HOST_ROOT_FILESYSTEM' : 'HOST_LOSES_STORAGE',
        message: `${address} holds ${storage.map((l) => l.what).join(', ')}: ${fatal.length > 0 ? 'the host runs from it and would stop' : 'those filesystems vanish from the host (unmount them first)'}`,
        devices: [address],
        evidence: storage.flatMap((l) => l.evidence),
      };
      (fatal.length > 0 ? plan.blockers : plan.warnings).push(finding);
    }
    const network = byKind('network');
    if (network.length > 0) {
      plan.warnings.push({
        code: 'HOST_LOSES_NETWORK',
        message: `${address} carries ${network.map((l) => l.what).join(', ')}: the host loses its network connection (and you, if you are connected from elsewhere)`,
        devices: [address],
        evidence: network.flatMap((l) => l.evidence),
      });
    }
  }
}
