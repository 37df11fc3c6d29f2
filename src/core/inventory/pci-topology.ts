// Where each PCI function sits in the bridge tree, read from its `/sys/devices/...` path: the kernel's
// `/sys/bus/pci/devices/<BDF>` is a link to `../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0`,
// whose components are the root bus, then every bridge down to the function itself.
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidBdf, pciDevicesDir } from './pci';

const ROOT_BUS = /^pci([0-9a-f]{4}):([0-9a-f]{2})$/;
/** Deeper than any real hierarchy (a Thunderbolt chain of docks is under 20). */
const MAX_DEPTH = 32;

/**
 * The bridges above `bdf`, from the one on the root bus down to its parent ([] for a function on the
 * root bus itself), read from a device path such as `../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0`.
 * Null when the path is not a plain PCI path that ends in `bdf`: another kind of bus (VMD's `pci10000:e0`,
 * a Hyper-V or platform device), a component that is not an address, a first bridge off the root bus,
 * a child on a bus not above its parent's, or a different domain. Never throws.
 */
export function ancestorsFromPath(path: unknown, bdf: string): string[] | null {
  if (typeof path !== 'string' || path.length > 4096 || !isValidBdf(bdf)) return null;
  const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
  const at = parts.indexOf('devices');
  if (at < 0) return null;
  const root = ROOT_BUS.exec(parts[at + 1] ?? '');
  if (!root) return null;
  const chain = parts.slice(at + 2);
  if (chain.length === 0 || chain.length > MAX_DEPTH || chain[chain.length - 1] !== bdf) return null;
  let bus = Number.parseInt(root[2] as string, 16);
  for (const [i, a] of chain.entries()) {
    if (!isValidBdf(a) || a.slice(0, 4) !== root[1]) return null;
    const b = Number.parseInt(a.slice(5, 7), 16);
    // On the root bus the first function's bus is the root's; below a bridge it is a later bus.
    if (i === 0 ? b !== bus : b <= bus) return null;
    bus = b;
  }
  return chain.slice(0, -1);
}

/** The device path the kernel would give `bdf` with these ancestors (relative to the root, no leading '/'). */
export function devicePathOf(bdf: string, ancestors: readonly string[]): string {
  const top = ancestors[0] ?? bdf;
  return ['sys', 'devices', `pci${top.slice(0, 7)}`, ...ancestors, bdf].join('/');
}

/** One function's ancestors from its `sys/bus/pci/devices/<BDF>` link; null when it is no link or no PCI path. */
export async function readAncestors(root: string, bdf: string): Promise<string[] | null> {
  if (!isValidBdf(bdf)) return null;
  try {
    return ancestorsFromPath(await readlink(join(pciDevicesDir(root), bdf)), bdf);
  } catch {
    return null;
  }
}

/** Address → ancestors, for the functions whose place in the tree can be read (the others are absent). */
export async function readPciTree(root: string, addresses: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const read = await Promise.all(addresses.map(async (a) => [a, await readAncestors(root, a)] as const));
  for (const [a, chain] of read) if (chain !== null) out.set(a, chain);
  return out;
}
