import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { rebuildBusTree } from './bus-tree';
import { isValidBdf } from './pci';
import { devicePathOf } from './pci-topology';

/**
 * One PCI function read from a published `lspci -nn` listing per IOMMU group (the `ls-iommu` for-loops
 * of the VFIO guides). Whatever the text did not say, or said only in part, is null, never guessed.
 */
export interface ListingDevice {
  /** Full, lowercase BDF: '0000:01:00.0' (the domain is 0000 when the listing left it out). */
  address: string;
  group: number;
  /** Four hex digits from `[0300]` (class and subclass), or null when the listing does not say it whole. */
  classCode: string | null;
  vendorId: string | null;
  deviceId: string | null;
  /** The text between the class and the ids: 'NVIDIA Corporation TU104 [GeForce RTX 2060]'. */
  name: string;
  /** The line was cut off (mid-class, mid-id or mid-suffix): what was cut is null. */
  truncated: boolean;
}

export interface ParsedListing {
  devices: ListingDevice[];
  /** Lines that look like broken device lines, and devices that cannot be planned; one sentence each. */
  problems: string[];
}

/** `IOMMU Group 1:`, `IOMMU group 1`, `IOMMU GROUP 1`, `IOMMU Group: 1`, with the device on the same line or not. */
const HEADER = /^iommu\s+group(?:\s*:\s*|\s+)(\d{1,9})(?!\d)/i;
/** A header the text cut off before its number: the devices after it cannot be placed. */
const BROKEN_HEADER = /^iommu(?:\s+g(?:r(?:o(?:u(?:p(?:\s*:)?)?)?)?)?)?$/i;
/** `(12) 01:00.0 …`: the group number in parentheses, as some scripts print it before each device. */
const PAREN_GROUP = /^\((\d{1,9})\)\s*/;
/** A whole address, with or without the domain, followed by a blank or the end of the line. */
const ADDRESS = /^((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])(?=\s|$)/i;
/** What is left of an address the text cut off: `01:00.`, `0000:0`, `01:0`. */
const PARTIAL_ADDRESS = /^(?:[0-9a-f]{4}:(?:[0-9a-f]{1,2}(?::[0-9a-f]{0,2}(?:\.[0-9a-f]?)?)?)?|[0-9a-f]{2}:[0-9a-f]{0,2}(?:\.[0-9a-f]?)?)$/i;
/** An address-shaped token that is not a PCI address (device over 1f, function over 7). */
const BAD_ADDRESS = /^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]\S*/i;
const ID = /\[([0-9a-f]{4}):([0-9a-f]{4})\]/gi;
const CLASS_AT_END = /\[([0-9a-f]{4})\]$/i;

const MAX_PROBLEMS = 200;
const MAX_SHOWN = 80;

function shown(line: string): string {
  const s = line.trim();
  return JSON.stringify(s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s);
}

/** True when every `(` and `[` in `s` is closed again. */
function balanced(s: string): boolean {
  let paren = 0;
  let bracket = 0;
  for (const ch of s) {
    if (ch === '(') paren++;
    else if (ch === ')') paren = Math.max(0, paren - 1);
    else if (ch === '[') bracket++;
    else if (ch === ']') bracket = Math.max(0, bracket - 1);
  }
  return paren === 0 && bracket === 0;
}

/** True when a `[` is still open at the end of `s` (an id or a bracketed name was cut). */
function bracketOpen(s: string): boolean {
  let bracket = 0;
  for (const ch of s) {
    if (ch === '[') bracket++;
    else if (ch === ']') bracket = Math.max(0, bracket - 1);
  }
  return bracket > 0;
}

/** `s` without a bracket left open at its end (the start of a cut-off id such as `[1002:a`). */
function withoutOpenBracket(s: string): string {
  const open = s.lastIndexOf('[');
  return open >= 0 && s.indexOf(']', open) < 0 ? s.slice(0, open) : s;
}

function normalizeAddress(raw: string): string {
  const a = raw.toLowerCase();
  return a.length === 7 ? `0000:${a}` : a;
}

interface DeviceText {
  classCode: string | null;
  classCut: boolean;
  vendorId: string | null;
  deviceId: string | null;
  idsCut: boolean;
  tailCut: boolean;
  name: string;
}

/** Reads what follows the address: `VGA compatible controller [0300]: NVIDIA … [10de:1e89] (rev a1)`. */
function readDeviceText(rest: string): DeviceText {
  const out: DeviceText = { classCode: null, classCut: false, vendorId: null, deviceId: null, idsCut: false, tailCut: false, name: '' };
  // The class is the [xxxx] right before the first ': ' (or a ':' that ends the line).
  let sep = rest.indexOf(': ');
  if (sep < 0 && rest.endsWith(':')) sep = rest.length - 1;
  let body: string;
  if (sep >= 0) {
    const head = rest.slice(0, sep).trimEnd();
    const cls = CLASS_AT_END.exec(head);
    if (cls?.[1]) out.classCode = cls[1].toLowerCase();
    body = rest.slice(sep + 1).trim();
  } else {
    // No separator: the line ends inside the description or right after its class.
    const head = rest.trimEnd();
    const cls = CLASS_AT_END.exec(head);
    if (cls?.[1]) out.classCode = cls[1].toLowerCase();
    else out.classCut = true;
    out.idsCut = true;
    return out;
  }
  // The ids are the last [vvvv:dddd] of the line.
  let last: RegExpExecArray | null = null;
  ID.lastIndex = 0;
  for (let m = ID.exec(body); m !== null; m = ID.exec(body)) last = m;
  if (last?.[1] && last[2]) {
    const tail = body.slice(last.index + last[0].length);
    if (bracketOpen(tail)) {
      // Something bracketed comes after the last whole id and is cut: that may be the real id.
      out.idsCut = true;
      out.name = withoutOpenBracket(body).trim();
    } else {
      out.vendorId = last[1].toLowerCase();
      out.deviceId = last[2].toLowerCase();
      out.tailCut = !balanced(tail);
      out.name = body.slice(0, last.index).trim();
    }
  } else {
    out.idsCut = out.classCode !== null;
    out.name = withoutOpenBracket(body).trim();
  }
  return out;
}

/**
 * Parses an `lspci -nn` listing per IOMMU group as people publish it: `IOMMU Group 1:` headers with
 * indented devices, or `IOMMU Group 1 00:01.0 …` on one line (the for-loop of the Arch wiki), any
 * case, with or without the `0000:` domain, tabs or spaces, `#`/`>` quoting, `(rev xx)` suffixes and
 * bracketed names. A line cut off still gives its device when the address is readable: what was cut is
 * null and `truncated` is set. Lines that are not devices are skipped; those that look like broken
 * device lines, and devices that cannot be planned, are named in `problems`. Never throws.
 */
export function parseIommuListing(text: string): ParsedListing {
  const devices: ListingDevice[] = [];
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const seen = new Map<string, number>();
  if (typeof text !== 'string') return { devices, problems: ['the listing is not text'] };
  let group: number | null = null;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    lineNo++;
    let rest = raw.replace(/^[\s#>]+/, '').trimEnd();
    if (rest.length === 0) continue;
    const header = HEADER.exec(rest);
    if (header?.[1]) {
      group = Number(header[1]);
      rest = rest.slice(header[0].length).replace(/^\s*:?/, '').trimStart();
      if (rest.length === 0) continue;
    } else if (BROKEN_HEADER.test(rest)) {
      group = null;
      problem(`line ${lineNo}: an IOMMU group header cut off before its number (${shown(raw)}): the devices after it are not placed`);
      continue;
    }
    const paren = PAREN_GROUP.exec(rest);
    if (paren?.[1]) {
      group = Number(paren[1]);
      rest = rest.slice(paren[0].length);
    }
    const addr = ADDRESS.exec(rest);
    if (!addr?.[1]) {
      const token = /^\S*/.exec(rest)?.[0] ?? '';
      if (token.length === rest.length && PARTIAL_ADDRESS.test(rest) && /[:.]/.test(rest)) {
        problem(`line ${lineNo}: a device line cut off inside its address (${shown(raw)})`);
      } else if (BAD_ADDRESS.test(token) && !token.includes('/')) {
        problem(`line ${lineNo}: ${JSON.stringify(token.slice(0, 20))} is not a PCI address (${shown(raw)})`);
      }
      continue;
    }
    const address = normalizeAddress(addr[1]);
    if (!isValidBdf(address)) {
      problem(`line ${lineNo}: ${JSON.stringify(addr[1])} is not a PCI address (${shown(raw)})`);
      continue;
    }
    if (group === null) {
      problem(`line ${lineNo}: ${address} is listed outside any IOMMU group: it is not placed`);
      continue;
    }
    const previous = seen.get(address);
    if (previous !== undefined) {
      if (previous !== group) problem(`line ${lineNo}: ${address} is listed again, in group ${group} after group ${previous}: the first is kept`);
      continue;
    }
    const d = readDeviceText(rest.slice(addr[0].length).trim());
    const truncated = d.classCut || d.idsCut || d.tailCut;
    seen.set(address, group);
    devices.push({ address, group, classCode: d.classCode, vendorId: d.vendorId, deviceId: d.deviceId, name: d.name, truncated });
    if (d.classCode === null) {
      problem(
        d.classCut
          ? `line ${lineNo}: ${address}'s line is cut off before its class: it cannot be planned (its class is unknown)`
          : `line ${lineNo}: ${address} has no [class] (not \`lspci -nn\`): it cannot be planned (its class is unknown)`,
      );
    } else if (d.vendorId === null) {
      problem(`line ${lineNo}: ${address}'s vendor:device id is cut off: it is left unknown`);
    }
  }
  return { devices, problems };
}

export interface ListingSnapshotOptions {
  /** The driver bound to a device on that host, if any (a listing names none). */
  drivers?: (d: ListingDevice) => string | undefined;
  /** The bridge tree when another source gives it (an `lspci -tv` of the same host): address → ancestors, root port first. */
  tree?: ReadonlyMap<string, readonly string[]>;
}

/** Whether the snapshot got a bridge tree, and why not when it did not. */
export interface ListingSnapshotResult {
  tree: 'given' | 'rebuilt' | 'none';
  problem: string | null;
}

async function relSymlink(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

const DRIVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Writes a host snapshot (DESIGN.md) under `root` from parsed listing devices: each function's real
 * directory where the kernel would put it, `sys/devices/pciDDDD:BB/<bridges...>/<BDF>`, with
 * `sys/bus/pci/devices/<BDF>` linking to it, {vendor,device,class}, the `iommu_group` and (when `drivers`
 * names one) `driver` symlinks, and sys/kernel/iommu_groups/N/devices/<BDF>. The bridge tree is
 * `options.tree` when given, else rebuilt from the bus numbers (bus-tree.ts); when it cannot be, each
 * function gets a plain directory under sys/bus/pci/devices (no tree: only same-slot functions count as
 * the card's) and the result says why. Unknown ids and classes are not written (a missing file means
 * "not said"). A device listed twice is written once.
 */
export async function writeListingSnapshot(root: string, devices: readonly ListingDevice[], options: ListingSnapshotOptions = {}): Promise<ListingSnapshotResult> {
  const busDir = join(root, 'sys', 'bus', 'pci', 'devices');
  await mkdir(busDir, { recursive: true });
  const seen = new Set<string>();
  const unique = devices.filter((d) => isValidBdf(d.address) && !seen.has(d.address) && seen.add(d.address));
  let result: ListingSnapshotResult;
  let ancestors: ReadonlyMap<string, readonly string[]>;
  if (options.tree) {
    ancestors = options.tree;
    result = { tree: 'given', problem: null };
  } else {
    const rebuilt = rebuildBusTree(unique);
    ancestors = rebuilt.ancestors;
    result = rebuilt.problem === null ? { tree: 'rebuilt', problem: null } : { tree: 'none', problem: `the bridge tree could not be rebuilt from the bus numbers: ${rebuilt.problem}` };
  }
  const validChain = (chain: readonly string[] | undefined): chain is readonly string[] => chain !== undefined && chain.length <= 32 && chain.every(isValidBdf);
  for (const d of unique) {
    const chain = ancestors.get(d.address);
    const real = validChain(chain) ? join(root, devicePathOf(d.address, chain)) : join(busDir, d.address);
    await mkdir(real, { recursive: true });
    if (real !== join(busDir, d.address)) await relSymlink(real, join(busDir, d.address));
    const w = (name: string, value: string) => writeFile(join(real, name), `${value}\n`);
    if (d.vendorId !== null && /^[0-9a-f]{4}$/.test(d.vendorId)) await w('vendor', `0x${d.vendorId}`);
    if (d.deviceId !== null && /^[0-9a-f]{4}$/.test(d.deviceId)) await w('device', `0x${d.deviceId}`);
    if (d.classCode !== null && /^[0-9a-f]{4}$/.test(d.classCode)) await w('class', `0x${d.classCode}00`);
    const driver = options.drivers?.(d);
    if (driver !== undefined && DRIVER_NAME.test(driver) && driver !== '.' && driver !== '..') {
      const drv = join(root, 'sys', 'bus', 'pci', 'drivers', driver);
      await mkdir(drv, { recursive: true });
      await relSymlink(drv, join(real, 'driver'));
    }
    if (Number.isSafeInteger(d.group) && d.group >= 0) {
      const group = join(root, 'sys', 'kernel', 'iommu_groups', String(d.group));
      await mkdir(join(group, 'devices'), { recursive: true });
      await relSymlink(group, join(real, 'iommu_group'));
      await relSymlink(real, join(group, 'devices', d.address));
    }
  }
  return result;
}
