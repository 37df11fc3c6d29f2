// The helper's own reading of which functions are a GPU's card: those of its slot, and those of the
// GPU's vendor behind the card's own PCIe switch (Intel Arc, AMD Navi), read from each function's
// /sys/devices path. And which classes the host's platform needs (never taken as an extra).
// Only node: built-ins: this file runs as root.
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BDF_RE, devicesDir, type HelperDevice } from './sysfs';

/** The bridges above `bdf` (root port first), from its `sys/bus/pci/devices/<BDF>` link; null when unreadable or not a plain PCI path. */
export function ancestorsOf(root: string, bdf: string): string[] | null {
  let path: string;
  try {
    path = readlinkSync(join(devicesDir(root), bdf));
  } catch {
    return null;
  }
  const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
  const at = parts.indexOf('devices');
  const rootBus = /^pci([0-9a-f]{4}):([0-9a-f]{2})$/.exec(parts[at + 1] ?? '');
  if (at < 0 || !rootBus) return null;
  const chain = parts.slice(at + 2);
  if (chain.length === 0 || chain.length > 32 || chain[chain.length - 1] !== bdf) return null;
  let bus = Number.parseInt(rootBus[2] as string, 16);
  for (const [i, a] of chain.entries()) {
    if (!BDF_RE.test(a) || a.slice(0, 4) !== rootBus[1]) return null;
    const b = Number.parseInt(a.slice(5, 7), 16);
    if (i === 0 ? b !== bus : b <= bus) return null;
    bus = b;
  }
  return chain.slice(0, -1);
}

function slotOf(bdf: string): string {
  return bdf.slice(0, bdf.lastIndexOf('.'));
}

/**
 * The GPU's own functions (never the GPU itself): the non-bridge functions of its slot, and, when its
 * grandparent is an upstream port of its vendor (with the port above the GPU of its vendor too) under
 * another bridge, and that switch's subtree holds no other display controller, the non-bridge functions
 * of the GPU's vendor below that switch.
 */
export function cardMembers(root: string, gpu: HelperDevice, all: readonly HelperDevice[]): Set<string> {
  const members = new Set(all.filter((d) => d.address !== gpu.address && !d.isBridge && slotOf(d.address) === slotOf(gpu.address)).map((d) => d.address));
  const chain = ancestorsOf(root, gpu.address);
  if (!chain || chain.length < 3 || gpu.vendor === '') return members;
  const byAddress = new Map(all.map((d) => [d.address, d]));
  const [port, up, down] = chain.slice(-3).map((a) => byAddress.get(a));
  if (!port?.isBridge || !up?.isBridge || !down?.isBridge || up.vendor !== gpu.vendor || down.vendor !== gpu.vendor) return members;
  const below = all.filter((d) => (ancestorsOf(root, d.address) ?? []).includes(up.address));
  const displays = below.filter((d) => d.classCode.startsWith('03'));
  if (displays.length !== 1 || displays[0]?.address !== gpu.address) return members;
  for (const d of below) if (d.address !== gpu.address && !d.isBridge && d.vendor === gpu.vendor) members.add(d.address);
  return members;
}

/** Classes the host's platform needs: host and ISA/LPC bridges, memory controllers, platform peripherals, SMBus, IPMI, the security processor. */
export function isHostCritical(classCode: string): boolean {
  return /^(0600|0601|05|080[0-4]|080[67]|0880|0c05|0c07|1080)/.test(classCode);
}
