// Reads the bridge tree out of an `lspci -tv` (or `-t`) drawing, as people publish it:
//
//   -[0000:00]-+-00.0  Intel Corporation ...
//              +-01.0-[01-03]----00.0-[02-03]--+-01.0-[03]----00.0  Intel Corporation DG2 [Arc A380]
//              |                               \-04.0-[04]----00.0  Intel Corporation DG2 Audio Controller
//              \-1f.3  Intel Corporation ...
//
// A device's bus is the one its branch opens: a root `[dddd:bb]`, or a bridge's `-[sec]` / `-[sec-sub]`;
// a `+-` or `\-` continues the branch drawn in that column on an earlier line.

export interface LspciTree {
  /** Address → the bridges above it, root port first ([] on a root bus). */
  ancestors: Map<string, string[]>;
  /** Address → the text after it ('Intel Corporation DG2 [Arc A380]'), for endpoints that have one. */
  names: Map<string, string>;
  /** Lines that could not be placed, one sentence each. */
  problems: string[];
}

interface Bus {
  domain: string;
  bus: string;
  chain: string[];
}

const ROOT = /^\[([0-9a-f]{4}):([0-9a-f]{2})\]/i;
const DEVICE = /^([01][0-9a-f])\.([0-7])/i;
const SECONDARY = /^-\[([0-9a-f]{2})(?:-[0-9a-f]{2})?\]/i;
const MAX_LINES = 5000;
const MAX_PROBLEMS = 100;

/** Parses an `lspci -tv` drawing. Whatever cannot be placed is named in `problems`. Never throws. */
export function parseLspciTree(text: unknown): LspciTree {
  const out: LspciTree = { ancestors: new Map(), names: new Map(), problems: [] };
  if (typeof text !== 'string') {
    out.problems.push('the tree is not text');
    return out;
  }
  const problem = (p: string) => {
    if (out.problems.length < MAX_PROBLEMS) out.problems.push(p);
  };
  /** Column of a `+` (or `\`) → the bus whose children are drawn from it, or 'roots' for the column of root buses. */
  const columns = new Map<number, Bus | 'roots'>();
  const lines = text.split('\n').slice(0, MAX_LINES);
  for (const [n, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').replace(/\t/g, ' ');
    let i = 0;
    let bus: Bus | null = null;
    let expectDevice = false;
    while (i < line.length) {
      const ch = line[i] as string;
      const rest = line.slice(i);
      if (ch === ' ' || ch === '|') {
        if (expectDevice) break;
        i += 1;
        continue;
      }
      if ((ch === '+' || ch === '\\') && line[i + 1] === '-') {
        // A root bus drawn first in an excerpt (` +-[0000:5d]-...`) opens its own column.
        if (!columns.has(i) && line[i + 2] === '[') columns.set(i, 'roots');
        const at = columns.get(i);
        if (at === undefined) {
          problem(`line ${n + 1}: a branch in column ${i + 1} that no earlier line opened`);
          break;
        }
        if (at !== 'roots') bus = at;
        i += 2;
        expectDevice = true;
        continue;
      }
      if (ch === '-' && line[i + 1] === '+' && line[i + 2] === '-' && (line[i + 3] === '[' || bus === null)) {
        // `-+-[0000:00]`: the column of root buses
        columns.set(i + 1, 'roots');
        i += 3;
        continue;
      }
      if (ch === '-' && line[i + 1] === '[' && ROOT.test(rest.slice(1))) {
        i += 1;
        continue;
      }
      const root = ROOT.exec(rest);
      if (root) {
        bus = { domain: (root[1] as string).toLowerCase(), bus: (root[2] as string).toLowerCase(), chain: [] };
        i += root[0].length;
        i = openChildren(line, i, bus, columns);
        expectDevice = i >= 0;
        if (i < 0) break;
        continue;
      }
      const dev = DEVICE.exec(rest);
      if (dev && bus) {
        const address = `${bus.domain}:${bus.bus}:${(dev[1] as string).toLowerCase()}.${dev[2] as string}`;
        if (!out.ancestors.has(address)) out.ancestors.set(address, bus.chain);
        i += dev[0].length;
        const sec = SECONDARY.exec(line.slice(i));
        if (sec) {
          const below: Bus = { domain: bus.domain, bus: (sec[1] as string).toLowerCase(), chain: [...bus.chain, address] };
          i = openChildren(line, i + sec[0].length, below, columns);
          if (i < 0) break;
          bus = below;
          expectDevice = true;
          continue;
        }
        const name = line.slice(i).trim();
        if (name.length > 0) out.names.set(address, name.slice(0, 200));
        break;
      }
      problem(`line ${n + 1}: ${JSON.stringify(rest.slice(0, 40))} is not part of an lspci tree`);
      break;
    }
  }
  return out;
}

/**
 * After a root or a bridge's bus: `-+-` draws several children (the `+` column is remembered), `---`
 * or `----` one child; anything else, none. Returns where the first child's address starts, or -1.
 */
function openChildren(line: string, from: number, bus: Bus, columns: Map<number, Bus | 'roots'>): number {
  let i = from;
  while (line[i] === '-') i += 1;
  if (line[i] === '+' && line[i + 1] === '-' && i > from) {
    columns.set(i, bus);
    return i + 2;
  }
  return i > from && DEVICE.test(line.slice(i)) ? i : -1;
}
