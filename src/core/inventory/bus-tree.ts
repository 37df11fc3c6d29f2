// Rebuilds the PCI bridge tree of a listing that has none (an `lspci -nn` per IOMMU group) from its bus
// numbers alone. Firmware numbers buses depth first: each bridge, in device order on its bus, takes the
// next free bus number for its secondary bus, and everything below it is numbered before its next
// sibling. Replaying that order over the listing's own bridges gives each function its ancestors,
// provided the listing holds every bridge and the firmware reserved no spare bus numbers. Where the
// replay does not account for every bus that has devices, no tree is given, and the reason says why.

export interface BusTreeInput {
  address: string;
  /** Four or six hex digits, or null when the listing did not say. */
  classCode: string | null;
}

export interface BusTree {
  /** Address → the bridges above it, root port first ([] on a root bus); empty when `problem` is set. */
  ancestors: Map<string, string[]>;
  /** Why no tree could be rebuilt, or null. */
  problem: string | null;
}

const isPciBridge = (c: string) => c.startsWith('0604') || c.startsWith('0609');
/** Every root bus seen on real platforms holds a host bridge or a platform function (IOMMU, IOAPIC, uncore). */
const looksLikeRootBus = (classes: readonly string[]) => classes.some((c) => c.startsWith('0600') || c.startsWith('08'));

function fail(problem: string): BusTree {
  return { ancestors: new Map(), problem };
}

/** Rebuilds one domain's tree; `devices` all share the domain. */
function rebuildDomain(domain: string, devices: readonly BusTreeInput[], out: Map<string, string[]>): string | null {
  const byBus = new Map<number, BusTreeInput[]>();
  for (const d of devices) {
    const bus = Number.parseInt(d.address.slice(5, 7), 16);
    byBus.set(bus, [...(byBus.get(bus) ?? []), d]);
  }
  for (const list of byBus.values()) list.sort((a, b) => a.address.localeCompare(b.address));
  const buses = [...byBus.keys()].sort((a, b) => a - b);
  const claimed = new Set<number>();
  let counter = -1;
  const scan = (bus: number, chain: string[]): string | null => {
    for (const d of byBus.get(bus) ?? []) out.set(d.address, chain);
    for (const bridge of (byBus.get(bus) ?? []).filter((d) => isPciBridge(d.classCode as string))) {
      counter += 1;
      if (counter > 0xff) return `the bridges of domain ${domain} need more than 256 bus numbers`;
      claimed.add(counter);
      const problem = scan(counter, [...chain, bridge.address]);
      if (problem) return problem;
    }
    return null;
  };
  for (const bus of buses) {
    if (claimed.has(bus)) continue;
    if (bus <= counter) {
      return `bus ${domain}:${bus.toString(16).padStart(2, '0')} has devices but falls inside another bridge's range without being its bus (the listing leaves out a bridge, or the firmware reserved bus numbers)`;
    }
    const classes = (byBus.get(bus) ?? []).map((d) => d.classCode as string);
    if (counter >= 0 && !looksLikeRootBus(classes)) {
      return `bus ${domain}:${bus.toString(16).padStart(2, '0')} has devices but no bridge leads to it by depth-first numbering, and it holds no host bridge or platform function to be a root bus of its own (bus numbers reserved for hot-plug, or a listing that leaves out bridges)`;
    }
    counter = bus;
    claimed.add(bus);
    const problem = scan(bus, []);
    if (problem) return problem;
  }
  return null;
}

/** The bridge tree of a listing's functions, rebuilt from their bus numbers (see the file's comment). Never throws. */
export function rebuildBusTree(devices: readonly BusTreeInput[]): BusTree {
  const unknown = devices.filter((d) => d.classCode === null || !/^[0-9a-f]{4}([0-9a-f]{2})?$/.test(d.classCode));
  if (unknown.length > 0) {
    return fail(`${unknown.slice(0, 3).map((d) => d.address).join(', ')}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''}: class unknown (a bridge or not), so the bus numbering cannot be replayed`);
  }
  const ancestors = new Map<string, string[]>();
  const domains = [...new Set(devices.map((d) => d.address.slice(0, 4)))].sort();
  for (const domain of domains) {
    const problem = rebuildDomain(domain, devices.filter((d) => d.address.startsWith(`${domain}:`)), ancestors);
    if (problem) return fail(problem);
  }
  return { ancestors, problem: null };
}
