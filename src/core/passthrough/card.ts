// Which functions belong to a GPU's own card: those of its slot, and, on cards that carry their own
// PCIe switch (Intel Arc Alchemist and Battlemage, AMD Navi), those behind that switch. Pure: the tree
// comes from pci-topology.ts.
import type { PciFunction } from '../inventory/pci';

export interface CardFunctions {
  /** The upstream port of the card's own switch, when the GPU sits behind one. */
  switchPort: string | null;
  /** The card's other non-bridge functions (never the GPU itself), each with why it is the card's. */
  members: Map<string, string>;
}

function slotOf(bdf: string): string {
  return bdf.slice(0, bdf.lastIndexOf('.'));
}

/**
 * The card's own switch: the GPU's grandparent U (the upstream port), under a port R that serves the
 * card, with U and the downstream port above the GPU both of the GPU's vendor, and U's subtree holding
 * no other display controller (a switch shared by several GPUs, such as a PLX board, is no card's own).
 */
export function cardSwitch(gpu: PciFunction, fns: readonly PciFunction[], tree: ReadonlyMap<string, readonly string[]>): string | null {
  const chain = tree.get(gpu.address);
  if (!chain || chain.length < 3 || gpu.vendorId === '') return null;
  const byAddress = new Map(fns.map((f) => [f.address, f]));
  const [port, up, down] = chain.slice(-3).map((a) => byAddress.get(a));
  if (!port?.isBridge || !up?.isBridge || !down?.isBridge) return null;
  if (up.vendorId !== gpu.vendorId || down.vendorId !== gpu.vendorId) return null;
  const displays = fns.filter((f) => f.classCode.startsWith('03') && (tree.get(f.address) ?? []).includes(up.address));
  return displays.length === 1 && displays[0]?.address === gpu.address ? up.address : null;
}

/**
 * A GPU's own functions: every other non-bridge function of its slot, and every non-bridge function of
 * the GPU's vendor behind the card's own switch. A virtual function has none (its PF and siblings are not its own).
 */
export function cardFunctions(gpu: PciFunction, fns: readonly PciFunction[], tree: ReadonlyMap<string, readonly string[]>, excluded: ReadonlySet<string> = new Set()): CardFunctions {
  const members = new Map<string, string>();
  const slot = slotOf(gpu.address);
  for (const f of fns) {
    if (f.address !== gpu.address && !f.isBridge && !excluded.has(f.address) && slotOf(f.address) === slot) members.set(f.address, `in the GPU's slot ${slot}`);
  }
  const switchPort = cardSwitch(gpu, fns, tree);
  if (switchPort !== null) {
    for (const f of fns) {
      if (f.address === gpu.address || f.isBridge || excluded.has(f.address) || members.has(f.address) || f.vendorId !== gpu.vendorId) continue;
      if ((tree.get(f.address) ?? []).includes(switchPort)) members.set(f.address, `behind the card's own switch ${switchPort}`);
    }
  }
  return { switchPort, members };
}
