// The plan's findings about what the host loses with the devices that move: the boot display, the last
// display on a driver, the BMC's remote console, host-critical platform functions, input devices,
// mounted filesystems (the root filesystem blocks) and the default route.
import type { PciFunction } from '../inventory/pci';
import { bmcConsoleFinding } from './bmc-console';
import { hostCriticalReason } from './host-critical';
import type { HostLoss } from './host-loss';
import type { PassthroughPlan } from './plan-types';

/** Warnings (and a blocker for the root filesystem) naming what the host loses with the devices that move. */
export async function hostLossFindings(plan: PassthroughPlan, fns: PciFunction[], lossOf: (address: string) => Promise<HostLoss[]>): Promise<void> {
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
  for (const fn of fns) {
    if (!moving.has(fn.address)) continue;
    const bmc = bmcConsoleFinding(fn);
    if (bmc) plan.warnings.push(bmc);
  }
  const critical = fns.filter((f) => moving.has(f.address) && hostCriticalReason(f) !== null);
  if (critical.length > 0) {
    plan.warnings.push({
      code: 'HOST_CRITICAL_MOVES',
      message: `the IOMMU group that must move holds functions the host's platform uses, and they leave with it: ${critical.map((f) => `${f.address} (${hostCriticalReason(f) as string})`).join(', ')}`,
      devices: critical.map((f) => f.address),
      evidence: critical.map((f) => ({ file: pciFile(f.address, 'class'), value: `0x${f.classCode}` })),
    });
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
