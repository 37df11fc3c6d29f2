// What the host loses when a PCI function leaves it: input devices behind a USB controller, mounted
// filesystems behind a storage controller, the default route behind a network controller. Read from
// the device's own sysfs subtree (a live tree or a snapshot), /proc/mounts and /proc/net/*route.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pciDevicesDir } from '../inventory/pci';
import { readTextOrNull, readTrimmedOrNull } from '../util/fs-read';

export interface Evidence {
  file: string;
  value: string;
}

export interface HostLoss {
  kind: 'input' | 'storage' | 'network';
  /** One line a person reads: "input device \"Logitech USB Receiver\"", "/dev/sda2 mounted on /". */
  what: string;
  /** True when the loss is the root filesystem (the host cannot survive it). */
  fatal: boolean;
  evidence: Evidence[];
}

/** What a function's subtree holds that the host uses: the names the walk found and where. */
export interface DeviceSubtree {
  inputs: Array<{ name: string; file: string }>;
  hidInterfaces: Array<{ product: string | null; file: string }>;
  blocks: Array<{ name: string; file: string }>;
  netIfaces: Array<{ name: string; file: string }>;
}

const MAX_DEPTH = 12;
const MAX_DIRS = 4000;
/** Subtrees that never hold a USB, block or network device and are large. */
const SKIP = new Set(['power', 'msi_irqs', 'hwmon', 'drm', 'sound', 'firmware_node', 'infiniband', 'mdev_supported_types', 'queue', 'trace', 'integrity', 'mq', 'statistics']);

/**
 * Walks one PCI function's directory (real directories only, never a symlink: `driver`, `subsystem`
 * and `port` point elsewhere) to a bounded depth and size.
 */
export async function walkDeviceSubtree(root: string, address: string): Promise<DeviceSubtree> {
  const base = join(pciDevicesDir(root), address);
  const out: DeviceSubtree = { inputs: [], hidInterfaces: [], blocks: [], netIfaces: [] };
  const queue: Array<{ dir: string; rel: string; depth: number; parent: string }> = [{ dir: base, rel: `sys/bus/pci/devices/${address}`, depth: 0, parent: '' }];
  let visited = 0;
  while (queue.length > 0 && visited < MAX_DIRS) {
    const { dir, rel, depth, parent } = queue.shift() as (typeof queue)[number];
    visited += 1;
    let entries: Array<{ name: string; isDirectory(): boolean; isFile(): boolean }>;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    const here = dir.slice(dir.lastIndexOf('/') + 1);
    if (depth > 0) {
      if (/^input\d+$/.test(here) && files.has('name')) {
        const name = await readTrimmedOrNull(join(dir, 'name'));
        if (name) out.inputs.push({ name: name.slice(0, 120), file: `/${rel}/name` });
      }
      if (files.has('bInterfaceClass') && (await readTrimmedOrNull(join(dir, 'bInterfaceClass'))) === '03') {
        const product = await readTrimmedOrNull(join(dir, '..', 'product'));
        out.hidInterfaces.push({ product: product ? product.slice(0, 120) : null, file: `/${rel}/bInterfaceClass` });
      }
      if (dirs.includes('queue') || files.has('partition') || parent === 'block') out.blocks.push({ name: here, file: `/${rel}` });
      if (parent === 'net') out.netIfaces.push({ name: here, file: `/${rel}` });
    }
    if (depth >= MAX_DEPTH) continue;
    for (const name of dirs) {
      if (SKIP.has(name)) continue;
      queue.push({ dir: join(dir, name), rel: `${rel}/${name}`, depth: depth + 1, parent: here });
    }
  }
  return out;
}

interface Mount {
  source: string;
  target: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export async function readMounts(root: string): Promise<Mount[] | null> {
  const text = (await readTextOrNull(join(root, 'proc', 'mounts'))) ?? (await readTextOrNull(join(root, 'proc', 'self', 'mounts')));
  if (text === null) return null;
  const out: Mount[] = [];
  for (const line of text.split('\n').slice(0, 5000)) {
    const [source, target] = line.split(' ');
    if (source && target && source.startsWith('/dev/')) out.push({ source: unescapeMount(source), target: unescapeMount(target) });
  }
  return out;
}

/** Interfaces that carry a default route (IPv4 `proc/net/route`, IPv6 `proc/net/ipv6_route`). */
export async function defaultRouteIfaces(root: string): Promise<Map<string, Evidence>> {
  const out = new Map<string, Evidence>();
  const v4 = await readTextOrNull(join(root, 'proc', 'net', 'route'));
  for (const line of (v4 ?? '').split('\n').slice(1, 2000)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && f[0]) out.set(f[0], { file: '/proc/net/route', value: line.trim() });
  }
  const v6 = await readTextOrNull(join(root, 'proc', 'net', 'ipv6_route'));
  for (const line of (v6 ?? '').split('\n').slice(0, 2000)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0] ?? '') && f[1] === '00') {
      const iface = f[9] as string;
      if (iface !== 'lo' && !out.has(iface)) out.set(iface, { file: '/proc/net/ipv6_route', value: line.trim() });
    }
  }
  return out;
}

/** Block devices stacked on `name` (LUKS, LVM, md), through `sys/class/block/<name>/holders`, two levels deep. */
async function holdersOf(root: string, name: string, depth = 0): Promise<Array<{ name: string; dmName: string | null }>> {
  if (depth > 2) return [];
  let holders: string[] = [];
  try {
    holders = (await readdir(join(root, 'sys', 'class', 'block', name, 'holders'))).filter((h) => /^[A-Za-z0-9_.-]{1,64}$/.test(h));
  } catch {
    return [];
  }
  const out: Array<{ name: string; dmName: string | null }> = [];
  for (const h of holders.slice(0, 32)) {
    out.push({ name: h, dmName: await readTrimmedOrNull(join(root, 'sys', 'class', 'block', h, 'dm', 'name')) });
    out.push(...(await holdersOf(root, h, depth + 1)));
  }
  return out;
}

/** Everything the host loses with this function, each with the files that say so. */
export async function hostLossOf(root: string, address: string, context?: { mounts: Mount[] | null; routes: Map<string, Evidence> }): Promise<HostLoss[]> {
  const tree = await walkDeviceSubtree(root, address);
  const losses: HostLoss[] = [];
  if (tree.inputs.length > 0) {
    for (const i of tree.inputs) losses.push({ kind: 'input', what: `input device "${i.name}"`, fatal: false, evidence: [{ file: i.file, value: i.name }] });
  } else {
    for (const h of tree.hidInterfaces) losses.push({ kind: 'input', what: `USB HID device${h.product ? ` "${h.product}"` : ''}`, fatal: false, evidence: [{ file: h.file, value: '03 (HID)' }] });
  }
  if (tree.blocks.length > 0) {
    const mounts = context?.mounts !== undefined ? context.mounts : await readMounts(root);
    for (const b of tree.blocks) {
      const names = [{ name: b.name, dmName: null as string | null }, ...(await holdersOf(root, b.name))];
      for (const n of names) {
        const sources = [`/dev/${n.name}`, ...(n.dmName ? [`/dev/mapper/${n.dmName}`] : [])];
        for (const m of mounts ?? []) {
          if (!sources.includes(m.source)) continue;
          losses.push({
            kind: 'storage',
            what: `${m.source} mounted on ${m.target}`,
            fatal: m.target === '/',
            evidence: [{ file: b.file, value: b.name }, { file: '/proc/mounts', value: `${m.source} ${m.target}` }],
          });
        }
      }
    }
  }
  if (tree.netIfaces.length > 0) {
    const routes = context?.routes ?? (await defaultRouteIfaces(root));
    for (const n of tree.netIfaces) {
      const route = routes.get(n.name);
      if (route) losses.push({ kind: 'network', what: `network interface ${n.name}, which holds the default route`, fatal: false, evidence: [{ file: n.file, value: n.name }, route] });
    }
  }
  return losses;
}
