import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidBdf, readIommuGroups, readPciFunctions, type PciFunction } from '../inventory/pci';
import { readPciTree } from '../inventory/pci-topology';
import { readSriovLinks } from '../inventory/sriov';
import { cardFunctions } from './card';
import { hostCriticalReason } from './host-critical';
import { defaultRouteIfaces, hostLossOf, readMounts, type HostLoss } from './host-loss';
import { hostLossFindings } from './plan-findings';
import { ROLE_WORDS, roleOf, type PassthroughPlan, type PlanOptions } from './plan-types';

export type { DeviceRole, PassthroughPlan, PlanDevice, PlanFinding, PlanHostOnly, PlanOptional, PlanOptions } from './plan-types';
export { roleOf } from './plan-types';

/** AMD GPU device ids of the families with the well-known reset bug (Polaris, Vega, Navi 10/14). */
const AMD_RESET_BUG = /^(67[cdef][0-9a-f]|699f|687f|6863|66a[0-7f]|731[0-9a-f]|734[0-9a-f])$/;

export async function readCmdline(root: string): Promise<string | null> {
  try {
    return (await readFile(join(root, 'proc', 'cmdline'), 'utf8')).trim();
  } catch {
    return null;
  }
}

function describe(fn: PciFunction): string {
  return `${fn.address} (class ${fn.classCode}, ${fn.driver ?? 'no driver'})`;
}

/**
 * What passing `target` through takes on the host under `root` (`/` or a snapshot): every function
 * that must move to vfio-pci (the target's IOMMU group, the GPU's own audio, and the extras asked for
 * in `options.with`), the card's other functions that stay unless asked for (its slot, and what sits
 * behind the card's own PCIe switch), the host-critical ones never offered, what blocks it and what
 * the host would lose. Reads only.
 */
export async function computePlan(root: string, target: string, options: PlanOptions = {}): Promise<PassthroughPlan> {
  const extras = [...new Set(options.with ?? [])];
  const plan: PassthroughPlan = { target, viable: false, devices: [], optional: [], hostOnly: [], cardSwitch: null, with: extras, physfn: null, blockers: [], warnings: [] };
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
  // A VF's companions are not its own: the PF and the other VFs of the slot keep their drivers.
  const tree = isVf ? new Map<string, string[]>() : await readPciTree(root, fns.map((f) => f.address));
  const card = isVf ? { switchPort: null, members: new Map<string, string>() } : cardFunctions(gpu, fns, tree, new Set(links.virtfns));
  plan.cardSwitch = card.switchPort;
  const inCard = (address: string) => address === target || card.members.has(address);
  const outsiders = (g: number) => (groups.get(g) ?? []).filter((m) => !inCard(m) && byAddress.get(m)?.isBridge === false);
  const siblings = [...card.members.keys()].sort().map((a) => byAddress.get(a) as PciFunction);

  const moveGroups = new Set<number>([gpu.iommuGroup]);
  const why = new Map<string, string>();
  const optionalReasons = new Map<string, string>();
  const hostOnly = new Map<string, string>();
  for (const f of siblings) {
    const own = card.members.get(f.address) as string;
    if (f.iommuGroup !== null && moveGroups.has(f.iommuGroup)) continue;
    const critical = hostCriticalReason(f);
    if (critical !== null) {
      hostOnly.set(f.address, `${critical}, ${own}: the host's platform needs it, so it is never offered`);
      continue;
    }
    if (f.iommuGroup === null) {
      optionalReasons.set(f.address, `${ROLE_WORDS[roleOf(f)]} of the same card (${own}) with no IOMMU group: it cannot be passed through`);
      continue;
    }
    const strangers = outsiders(f.iommuGroup);
    // The GPU's own HDMI/DP audio has the GPU's vendor; an APU's slot also holds the chipset's analog audio (another vendor), which stays.
    if (roleOf(f) === 'audio' && f.vendorId !== '' && f.vendorId === gpu.vendorId && strangers.length === 0) {
      moveGroups.add(f.iommuGroup);
      why.set(f.address, `the GPU's own audio (${own}), in IOMMU group ${f.iommuGroup}, which holds nothing else`);
      continue;
    }
    optionalReasons.set(
      f.address,
      strangers.length > 0
        ? `${ROLE_WORDS[roleOf(f)]} of the card (${own}) in IOMMU group ${f.iommuGroup}, which also holds ${strangers.join(', ')}: adding it would take them too`
        : `${ROLE_WORDS[roleOf(f)]} of the card (${own}) in its own IOMMU group (${f.iommuGroup}), apart from the GPU's: it stays on the host unless you add it`,
    );
  }
  for (const extra of extras) {
    const fn = byAddress.get(extra);
    if (fn?.iommuGroup !== null && fn?.iommuGroup !== undefined && moveGroups.has(fn.iommuGroup)) continue;
    if (hostOnly.has(extra)) {
      plan.blockers.push({ code: 'HOST_CRITICAL', message: `${extra} is ${hostOnly.get(extra) as string}`, devices: [extra] });
      continue;
    }
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
    why.set(extra, `asked for: ${card.members.get(extra) as string}, IOMMU group ${fn.iommuGroup}`);
  }

  const strangers: PciFunction[] = [];
  for (const g of [...moveGroups].sort((a, b) => a - b)) {
    for (const member of groups.get(g) ?? []) {
      const fn = byAddress.get(member);
      if (!fn || fn.isBridge || plan.devices.some((d) => d.address === member)) continue;
      const reason =
        why.get(member) ??
        (member === target
          ? isVf ? 'the virtual function' : 'the GPU'
          : inCard(member)
            ? `in IOMMU group ${g} with the GPU (${card.members.get(member) as string})`
            : `in IOMMU group ${g}, which must move, but not the GPU's own`);
      plan.devices.push({ address: fn.address, driver: fn.driver, role: roleOf(fn), why: reason });
      if (!inCard(fn.address)) strangers.push(fn);
      optionalReasons.delete(fn.address);
      hostOnly.delete(fn.address);
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
  for (const [address, reason] of [...hostOnly.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    plan.hostOnly.push({ address, role: roleOf(byAddress.get(address) as PciFunction), reason });
  }

  if (strangers.length > 0) {
    plan.blockers.push({
      code: 'GROUP_SHARED',
      message: `the IOMMU group that must move is shared with devices that are not the GPU's own functions (neither of its slot nor behind the card's own switch); they would have to leave the host too: ${strangers.map(describe).join(', ')}`,
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
