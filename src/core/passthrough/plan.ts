import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidBdf, readIommuGroups, readPciFunctions, type PciFunction } from '../inventory/pci';

export type DeviceRole = 'gpu' | 'audio' | 'usb' | 'serial' | 'other';

export interface PlanDevice {
  address: string;
  driver: string | null;
  role: DeviceRole;
}

export interface PlanFinding {
  code: string;
  message: string;
  devices: string[];
}

export interface PassthroughPlan {
  target: string;
  viable: boolean;
  /** Every function that must move to vfio-pci. */
  devices: PlanDevice[];
  blockers: PlanFinding[];
  warnings: PlanFinding[];
}

export function roleOf(fn: Pick<PciFunction, 'classCode'>): DeviceRole {
  const c = fn.classCode;
  if (c.startsWith('03')) return 'gpu';
  if (c.startsWith('0403') || c.startsWith('0401')) return 'audio';
  if (c.startsWith('0c03')) return 'usb';
  if (c.startsWith('0c80') || c.startsWith('0c05') || c.startsWith('07')) return 'serial';
  return 'other';
}

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
 * that must move to vfio-pci, what blocks it and what to beware of. Reads only.
 */
export async function computePlan(root: string, target: string): Promise<PassthroughPlan> {
  const plan: PassthroughPlan = { target, viable: false, devices: [], blockers: [], warnings: [] };
  if (!isValidBdf(target)) {
    plan.blockers.push({ code: 'BAD_ADDRESS', message: `${JSON.stringify(target.slice(0, 40))} is not a PCI address like 0000:01:00.0`, devices: [] });
    return plan;
  }
  const [fns, groups, cmdline] = await Promise.all([readPciFunctions(root), readIommuGroups(root), readCmdline(root)]);
  const byAddress = new Map(fns.map((f) => [f.address, f]));
  const gpu = byAddress.get(target);
  if (!gpu) {
    plan.blockers.push({ code: 'NOT_FOUND', message: `no PCI device ${target} on this host`, devices: [target] });
    return plan;
  }
  if (!gpu.classCode.startsWith('03')) {
    plan.blockers.push({ code: 'NOT_A_GPU', message: `${target} is not a display controller (class ${gpu.classCode})`, devices: [target] });
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
  const own = fns.filter((f) => slotOf(f.address) === slot);
  const groupIds = [...new Set(own.map((f) => f.iommuGroup).filter((g): g is number => g !== null))].sort((a, b) => a - b);
  if (groupIds.length > 1) {
    plan.warnings.push({
      code: 'FUNCTIONS_SPLIT',
      message: `the GPU's functions are in ${groupIds.length} IOMMU groups (${groupIds.join(', ')}): all of them move together`,
      devices: own.map((f) => f.address),
    });
  }
  const strangers: PciFunction[] = [];
  const seen = new Set<string>();
  for (const g of groupIds) {
    for (const member of groups.get(g) ?? []) {
      if (seen.has(member)) continue;
      seen.add(member);
      const fn = byAddress.get(member);
      if (!fn || fn.isBridge) continue;
      plan.devices.push({ address: fn.address, driver: fn.driver, role: slotOf(fn.address) === slot ? roleOf(fn) : 'other' });
      if (slotOf(fn.address) !== slot) strangers.push(fn);
    }
  }
  // a function of the slot the kernel put in no group cannot be isolated
  for (const f of own) {
    if (f.iommuGroup === null && !f.isBridge) {
      plan.blockers.push({ code: 'FUNCTION_WITHOUT_GROUP', message: `${f.address} belongs to the GPU but has no IOMMU group`, devices: [f.address] });
    }
  }
  plan.devices.sort((a, b) => a.address.localeCompare(b.address));
  if (strangers.length > 0) {
    plan.blockers.push({
      code: 'GROUP_SHARED',
      message: `the GPU's IOMMU group is shared with devices that are not its own functions; they would have to leave the host too: ${strangers.map(describe).join(', ')}`,
      devices: strangers.map((f) => f.address),
    });
  }
  if (gpu.bootVga === true) {
    plan.warnings.push({ code: 'BOOT_VGA', message: `${target} is the boot/primary GPU: the host display goes dark while it is passed through`, devices: [target] });
  }
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
  if (gpu.sriovTotalVfs !== null && gpu.sriovTotalVfs > 0) {
    plan.warnings.push({
      code: 'SRIOV_AVAILABLE',
      message: `${target} supports SR-IOV (${gpu.sriovTotalVfs} virtual functions): a VF can be passed through instead while the host keeps the GPU`,
      devices: [target],
    });
  }
  plan.viable = plan.blockers.length === 0;
  return plan;
}
