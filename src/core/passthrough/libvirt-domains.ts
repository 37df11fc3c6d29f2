// "Give it to a VM": the libvirt domains, and attaching/detaching a plan's devices to one of them, over
// `virsh` (argv only, a timeout on every call, the domain name always one argv element after `--`).
// The wizard's passthrough.vms/attach/detach and `gpu-bridge passthrough vms|libvirt` share these functions.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmDomainName, type VmChange, type VmList } from '../../shared/contract/vm';
import { runCommand, type RunResult } from '../exec/run-command';
import { hostdevXml } from './libvirt';
import { computePlan, type PassthroughPlan } from './plan';

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

export interface LibvirtOptions {
  /** The connection; default: LIBVIRT_DEFAULT_URI from `env`, else qemu:///system. */
  uri?: string;
  env?: NodeJS.ProcessEnv;
  /** The virsh program (tests point it at a missing one). */
  virsh?: string;
  /** Per query (list, domstate, dumpxml). */
  queryTimeoutMs?: number;
  /** Per attach-device/detach-device (a live detach waits for the guest). */
  changeTimeoutMs?: number;
}

export type VmErrorKind = 'invalid' | 'unavailable' | 'not-found' | 'refused';

/** A refusal or an unusable libvirt, before anything was changed. The shells map `kind` to their codes. */
export class VmError extends Error {
  constructor(
    readonly kind: VmErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'VmError';
  }
}

export function libvirtUri(options: LibvirtOptions = {}): string {
  const env = options.env ?? process.env;
  return options.uri ?? (env.LIBVIRT_DEFAULT_URI?.trim() || DEFAULT_LIBVIRT_URI);
}

/** Why `name` is not a domain name this tool passes to virsh, or null when it is fine. */
export function domainNameError(name: string): string | null {
  const parsed = VmDomainName.safeParse(name);
  if (parsed.success) return null;
  const shown = JSON.stringify(name.slice(0, 40));
  if (name.length === 0) return 'a libvirt domain name cannot be empty';
  if (name.length > 64) return `${shown}… is longer than 64 characters`;
  return `${shown} is not a domain name this tool accepts: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
}

// ---------------------------------------------------------------------------------------------------
// Parsing virsh's output

/** `virsh list --all --name`: one name per line, then an empty line. Names may hold spaces: lines are kept as they are. */
export function parseDomainNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.length > 0);
}

/**
 * `virsh domstate NAME` (LC_ALL=C): its first line, e.g. "running", "shut off", "paused". (Not `dominfo`: its
 * security-model line makes a fresh libvirtd probe every QEMU binary first, seconds each.)
 */
export function parseDomState(stdout: string): string | null {
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  return line ?? null;
}

export interface HostdevEntry {
  /** The host PCI address of its `<source><address …/></source>`, like 0000:2b:00.0. */
  address: string;
  managed: string | null;
  /** The element as libvirt wrote it, its own indentation removed. */
  xml: string;
}

const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(ATTR)) out[m[1] as string] = m[2] ?? m[3] ?? '';
  return out;
}

/** libvirt writes 0x-prefixed hex; it also reads decimal. */
function pciNumber(value: string | undefined, max: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? parseInt(v, 10) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= max ? n : null;
}

function hexPad(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Blanks out what may hold text that looks like a device: comments, CDATA, and the domain's `<metadata>` (foreign XML). */
function devicesText(xml: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  let text = xml.replace(/<!--[\s\S]*?-->/g, blank).replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, blank);
  const open = /<metadata\b[^>]*>/.exec(text);
  const close = text.lastIndexOf('</metadata>');
  if (open && close > open.index) text = text.slice(0, open.index) + blank(text.slice(open.index, close + '</metadata>'.length)) + text.slice(close + '</metadata>'.length);
  return text;
}

/**
 * Every `<hostdev type='pci'>` of a domain's XML (`virsh dumpxml`), by the host address of its source.
 * libvirt writes its XML in one normalised form (single quotes, fixed order, no nesting of hostdevs), so a
 * careful scan is enough; what cannot be read as a PCI address is skipped.
 */
export function parseHostdevs(xml: string): HostdevEntry[] {
  const text = devicesText(xml);
  const out: HostdevEntry[] = [];
  for (const m of text.matchAll(/<hostdev\b([^>]*?)(\/?)>/g)) {
    const open = attributes(m[1] ?? '');
    if (open.type !== 'pci' || m[2] === '/') continue;
    const start = m.index;
    const end = text.indexOf('</hostdev>', start);
    if (end < 0) continue;
    const body = text.slice(start, end);
    const source = /<source\b[^>]*>([\s\S]*?)<\/source>/.exec(body)?.[1];
    const addressTag = source ? /<address\b([^>]*?)\/?>/.exec(source)?.[1] : undefined;
    if (addressTag === undefined) continue;
    const a = attributes(addressTag);
    const domain = pciNumber(a.domain ?? '0', 0xffff);
    const bus = pciNumber(a.bus, 0xff);
    const slot = pciNumber(a.slot, 0x1f);
    const fn = pciNumber(a.function, 7);
    if (domain === null || bus === null || slot === null || fn === null) continue;
    const lineStart = xml.lastIndexOf('\n', start) + 1;
    const indent = /^[ \t]*$/.test(xml.slice(lineStart, start)) ? xml.slice(lineStart, start) : '';
    const element = xml.slice(start, end + '</hostdev>'.length);
    out.push({
      address: `${hexPad(domain, 4)}:${hexPad(bus, 2)}:${hexPad(slot, 2)}.${fn}`,
      managed: open.managed ?? null,
      xml: element
        .split('\n')
        .map((line, i) => (i > 0 && indent && line.startsWith(indent) ? line.slice(indent.length) : line))
        .join('\n'),
    });
  }
  return out;
}

/** The first line(s) virsh printed as `error: …`, joined: what its failure says. */
export function virshError(res: Pick<RunResult, 'stdout' | 'stderr' | 'code' | 'spawnError' | 'timedOut'>, timeoutMs?: number): string {
  if (res.spawnError) return res.spawnError;
  if (res.timedOut) return `virsh did not answer within ${Math.round((timeoutMs ?? 0) / 1000)} s`;
  const errors = res.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('error:'))
    .map((l) => l.slice('error:'.length).trim());
  // "Failed to attach device from /tmp/…/x.xml" only names our temporary file: the line after it says why
  if (errors.length > 1 && /^Failed to (attach|detach) device from /.test(errors[0] ?? '')) errors.shift();
  const text = errors.length > 0 ? errors.join(': ') : (res.stderr.trim() || res.stdout.trim() || `exit ${res.code}`);
  return text.slice(0, 500);
}

/** `attach-device`/`detach-device` argv: flags first, the file, then `--` and the domain as one element. */
export function deviceChangeArgs(uri: string, action: 'attach' | 'detach', domain: string, file: string, where: { live: boolean; config: boolean }): string[] {
  return ['-c', uri, `${action}-device`, ...(where.live ? ['--live'] : []), ...(where.config ? ['--config'] : []), '--file', file, '--', domain];
}

/**
 * Where an attach goes: a running (active) domain gets the device now and in its config (`--live --config`); a
 * stopped one in its config (`--config`); a transient one (no config: `virsh create`) only now (`--live`).
 */
export function attachTargets(running: boolean, persistent = true): { live: boolean; config: boolean } {
  return { live: running, config: persistent };
}

// ---------------------------------------------------------------------------------------------------
// virsh

interface Virsh {
  uri: string;
  run(args: string[], timeoutMs?: number): Promise<RunResult & { timeoutMs: number }>;
  changeTimeoutMs: number;
}

function virshFor(options: LibvirtOptions): Virsh {
  const uri = libvirtUri(options);
  const env = { ...(options.env ?? process.env), LC_ALL: 'C', LANG: 'C' };
  const program = options.virsh ?? 'virsh';
  const queryTimeoutMs = options.queryTimeoutMs ?? 20_000;
  return {
    uri,
    changeTimeoutMs: options.changeTimeoutMs ?? 90_000,
    async run(args, timeoutMs = queryTimeoutMs) {
      const res = await runCommand(program, ['-c', uri, ...args], { env, timeoutMs, maxOutputBytes: 4 * 1024 * 1024 });
      return { ...res, timeoutMs };
    },
  };
}

/** One clear sentence: what is wrong with libvirt here and what to do about it. */
function unavailableReason(uri: string, res: RunResult & { timeoutMs: number }): string {
  if (res.spawnError && /ENOENT/.test(res.spawnError)) {
    return 'libvirt is not installed (no virsh on this host): install it (Debian/Ubuntu: sudo apt install libvirt-daemon-system libvirt-clients; Fedora: sudo dnf install libvirt) and start libvirtd (sudo systemctl start libvirtd)';
  }
  const why = virshError(res, res.timeoutMs);
  if (res.timedOut) return `libvirt at ${uri} did not answer (${why}): check that libvirtd is healthy (sudo systemctl restart libvirtd)`;
  if (/permission denied|authentication (failed|unavailable)|access denied/i.test(why)) {
    return `cannot use libvirt at ${uri}: ${why}. Add your user to the libvirt group (sudo usermod -aG libvirt $USER, then log in again) or run as root`;
  }
  if (/failed to connect|no such file|connection refused|cannot recv data|end of file/i.test(why)) {
    return `libvirt is not running at ${uri}: ${why}. Start it: sudo systemctl start libvirtd (or virtqemud.socket on a modular-daemon host); if it is not installed: sudo apt install libvirt-daemon-system`;
  }
  return `cannot use libvirt at ${uri}: ${why}`;
}

interface DomainDetail {
  name: string;
  state: string;
  running: boolean;
  /** Defined (has a config); false for a transient domain (`virsh create`), whose --inactive XML is its live one. */
  persistent: boolean;
  /** Its persistent config (`dumpxml --inactive`). */
  config: HostdevEntry[];
  /** The running VM (`dumpxml`), when active. */
  live: HostdevEntry[];
  /** Both XMLs could be read (else what it holds is unknown). */
  readable: boolean;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function readDomain(v: Virsh, name: string, active: boolean, persistent: boolean): Promise<DomainDetail | null> {
  const stateRes = await v.run(['domstate', '--', name]);
  const state = stateRes.code === 0 ? parseDomState(stateRes.stdout) : null;
  if (state === null) return null; // gone since the list (or not readable): not listed
  const config = await v.run(['dumpxml', '--inactive', '--', name]);
  const live = active ? await v.run(['dumpxml', '--', name]) : null;
  return {
    name,
    state,
    running: active,
    persistent,
    config: config.code === 0 ? parseHostdevs(config.stdout) : [],
    live: live && live.code === 0 ? parseHostdevs(live.stdout) : [],
    readable: config.code === 0 && (live === null || live.code === 0),
  };
}

/** Every domain with its state and the PCI hostdevs it holds; throws VmError('unavailable') when libvirt cannot be used. */
async function inspectDomains(v: Virsh): Promise<DomainDetail[]> {
  const res = await v.run(['list', '--all', '--name']);
  if (res.code !== 0 || res.spawnError || res.timedOut) throw new VmError('unavailable', unavailableReason(v.uri, res));
  // `list --name` without --all: the active ones (running, paused…), which take --live
  const activeRes = await v.run(['list', '--name']);
  if (activeRes.code !== 0) throw new VmError('unavailable', unavailableReason(v.uri, activeRes));
  const active = new Set(parseDomainNames(activeRes.stdout));
  const transientRes = active.size > 0 ? await v.run(['list', '--name', '--transient']) : null;
  const transient = new Set(transientRes && transientRes.code === 0 ? parseDomainNames(transientRes.stdout) : []);
  const details = await mapLimit(parseDomainNames(res.stdout), 4, (name) => readDomain(v, name, active.has(name), !transient.has(name)));
  return details.filter((d): d is DomainDetail => d !== null);
}

const holds = (d: DomainDetail, address: string) => d.config.some((h) => h.address === address) || d.live.some((h) => h.address === address);

/** The domains and what each holds; `{available: false, reason}` (never a throw) when libvirt is missing or down. */
export async function listDomains(options: LibvirtOptions = {}): Promise<VmList> {
  const v = virshFor(options);
  try {
    const domains = await inspectDomains(v);
    return {
      available: true,
      reason: null,
      uri: v.uri,
      domains: domains.map((d) => ({ name: d.name, state: d.state, running: d.running, hostdevs: [...new Set([...d.config, ...d.live].map((h) => h.address))].sort() })),
    };
  } catch (error) {
    if (error instanceof VmError) return { available: false, reason: error.message, uri: v.uri, domains: [] };
    throw error;
  }
}

/** The plan for `address`, taking along the optional functions named in `extras` (plan.ts's `with`). */
export function planForVm(root: string, address: string, extras: string[] = []): Promise<PassthroughPlan> {
  return computePlan(root, address, { with: extras });
}

// One change at a time per process: two attaches interleaving would read each other's half-done state.
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

async function withDeviceFiles<T>(fn: (fileFor: (address: string) => Promise<string>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gpu-bridge-hostdev-'));
  try {
    return await fn(async (address) => {
      const file = join(dir, `${address.replace(/[^0-9a-f]/g, '-')}.xml`);
      await writeFile(file, `${hostdevXml(address)}\n`, { mode: 0o600 });
      return file;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function findDomain(v: Virsh, domains: DomainDetail[], name: string): DomainDetail {
  const found = domains.find((d) => d.name === name);
  if (found) return found;
  const names = domains.map((d) => JSON.stringify(d.name));
  throw new VmError('not-found', `there is no libvirt domain ${JSON.stringify(name)} at ${v.uri}; ${names.length > 0 ? `the domains there: ${names.join(', ')}` : 'there are no domains there: define the VM first (virt-manager, or virsh define)'}`);
}

function checkName(domain: string): void {
  const bad = domainNameError(domain);
  if (bad) throw new VmError('invalid', bad);
}

async function readBack(v: Virsh, domain: string, running: boolean): Promise<{ config: HostdevEntry[]; live: HostdevEntry[] }> {
  const config = await v.run(['dumpxml', '--inactive', '--', domain]);
  const live = running ? await v.run(['dumpxml', '--', domain]) : null;
  if (config.code !== 0) throw new Error(`could not read back ${JSON.stringify(domain)}: ${virshError(config, config.timeoutMs)}`);
  return { config: parseHostdevs(config.stdout), live: live && live.code === 0 ? parseHostdevs(live.stdout) : [] };
}

const elementsFor = (entries: HostdevEntry[], addresses: string[]) => addresses.flatMap((a) => entries.filter((h) => h.address === a).map((h) => h.xml));

/**
 * Attaches every device of the plan to `domain`: `--live --config` when it runs, `--config` when it is stopped.
 * Refuses (VmError, nothing changed) a blocked plan, an unknown domain (naming the ones there are) and a device
 * another domain holds (naming it). A device the domain already holds is "already attached". If one device fails,
 * those attached by this call are detached again. The answer's `xml` is what libvirt's config holds afterwards.
 */
export function attachPlan(plan: PassthroughPlan, domain: string, options: LibvirtOptions = {}): Promise<VmChange> {
  return serialized(async () => {
    checkName(domain);
    if (!plan.viable) throw new VmError('refused', `${plan.target} cannot be passed through: ${plan.blockers.map((b) => b.message).join('; ') || 'the plan is not viable'}`);
    if (plan.devices.length === 0) throw new VmError('refused', `the plan for ${plan.target} moves no device`);
    const v = virshFor(options);
    const domains = await inspectDomains(v);
    const target = findDomain(v, domains, domain);
    const addresses = plan.devices.map((d) => d.address);
    const conflicts = domains
      .filter((d) => d.name !== domain)
      .map((d) => ({ name: d.name, held: addresses.filter((a) => holds(d, a)) }))
      .filter((c) => c.held.length > 0);
    if (conflicts.length > 0) {
      const what = conflicts.map((c) => `${c.held.join(', ')} ${c.held.length === 1 ? 'is' : 'are'} already attached to ${JSON.stringify(c.name)}`).join('; ');
      throw new VmError('refused', `${what}: a device can be given to one VM only; detach it there first (gpu-bridge passthrough libvirt ${plan.target} --detach ${JSON.stringify(conflicts[0]?.name)}). Nothing was changed`);
    }
    const unknown = domains.filter((d) => d.name !== domain && !d.readable).map((d) => JSON.stringify(d.name));
    if (unknown.length > 0) throw new VmError('refused', `could not read the XML of ${unknown.join(', ')} to check that it holds none of these devices (a device can be given to one VM only). Nothing was changed`);

    const running = target.running;
    const devices: VmChange['devices'] = [];
    const attachedNow: Array<{ address: string; where: { live: boolean; config: boolean } }> = [];
    await withDeviceFiles(async (fileFor) => {
      let failed = false;
      for (const address of addresses) {
        if (failed) {
          devices.push({ address, ok: false, message: 'not attached: an earlier device failed' });
          continue;
        }
        const inConfig = target.config.some((h) => h.address === address);
        const inLive = target.live.some((h) => h.address === address);
        const wanted = attachTargets(running, target.persistent);
        const where = { live: wanted.live && !inLive, config: wanted.config && !inConfig };
        if (!where.live && !where.config) {
          devices.push({ address, ok: true, message: 'already attached' });
          continue;
        }
        const res = await v.run(deviceChangeArgs(v.uri, 'attach', domain, await fileFor(address), where), v.changeTimeoutMs);
        if (res.code === 0 && !res.timedOut) {
          attachedNow.push({ address, where });
          devices.push({ address, ok: true, message: `attached (${[where.live ? 'live' : '', where.config ? 'config' : ''].filter(Boolean).join(' + ')})` });
        } else {
          failed = true;
          devices.push({ address, ok: false, message: virshError(res, res.timeoutMs) });
        }
      }
      if (failed && attachedNow.length > 0) {
        for (const done of attachedNow.reverse()) {
          const undo = await v.run(deviceChangeArgs(v.uri, 'detach', domain, await fileFor(done.address), done.where), v.changeTimeoutMs);
          const entry = devices.find((d) => d.address === done.address);
          if (entry) {
            entry.ok = false;
            entry.message = undo.code === 0 ? 'attached, then detached again because a later device failed' : `attached, and detaching it again after a later failure failed too: ${virshError(undo, undo.timeoutMs)}`;
          }
        }
      }
    });

    const now = await readBack(v, domain, running);
    for (const d of devices) {
      if (!d.ok) continue;
      const missing = [!now.config.some((h) => h.address === d.address) ? 'its config' : '', running && !now.live.some((h) => h.address === d.address) ? 'the running VM' : ''].filter(Boolean);
      if (missing.length > 0) {
        d.ok = false;
        d.message = `${d.message}, but libvirt's read-back does not show it in ${missing.join(' or ')}`;
      }
    }
    return { domain, live: running, devices, xml: elementsFor(now.config, addresses) };
  });
}

/**
 * Detaches every device of the plan that `domain` holds (from the running VM where it is there, from the config
 * where it is there), then reads back that they are gone. Devices it does not hold are "not attached".
 * Unlike attach, a blocked plan is no reason to refuse: the way back must always work.
 */
export async function detachPlan(plan: PassthroughPlan, domain: string, options: LibvirtOptions = {}): Promise<VmChange> {
  checkName(domain);
  if (plan.devices.length === 0) throw new VmError('refused', `the plan for ${plan.target} names no device to detach${plan.blockers.length > 0 ? ` (${plan.blockers.map((b) => b.message).join('; ')})` : ''}`);
  return detachDevices(plan.devices.map((d) => d.address), domain, options);
}

/** detachPlan's work for a list of PCI addresses (the way back after a restore has the helper's, not a plan). */
export function detachDevices(addresses: string[], domain: string, options: LibvirtOptions = {}): Promise<VmChange> {
  return serialized(async () => {
    checkName(domain);
    const v = virshFor(options);
    const domains = await inspectDomains(v);
    const target = findDomain(v, domains, domain);
    const running = target.running;
    const devices: VmChange['devices'] = [];
    await withDeviceFiles(async (fileFor) => {
      for (const address of addresses) {
        const where = { live: running && target.live.some((h) => h.address === address), config: target.persistent && target.config.some((h) => h.address === address) };
        if (!where.live && !where.config) {
          devices.push({ address, ok: true, message: 'not attached' });
          continue;
        }
        const res = await v.run(deviceChangeArgs(v.uri, 'detach', domain, await fileFor(address), where), v.changeTimeoutMs);
        devices.push(res.code === 0 && !res.timedOut ? { address, ok: true, message: `detached (${[where.live ? 'live' : '', where.config ? 'config' : ''].filter(Boolean).join(' + ')})` } : { address, ok: false, message: virshError(res, res.timeoutMs) });
      }
    });
    const now = await readBack(v, domain, running);
    for (const d of devices) {
      const inConfig = now.config.some((h) => h.address === d.address);
      const inLive = now.live.some((h) => h.address === d.address);
      if (d.ok && inConfig && target.persistent) {
        d.ok = false;
        d.message = `${d.message}, but libvirt's config still holds it`;
      } else if (d.ok && inLive) {
        d.ok = false;
        d.message = `${d.message}: the guest has not released it yet (libvirt removes it from the running VM once the guest lets go; try again, or shut the VM down)`;
      }
    }
    return { domain, live: running, devices, xml: elementsFor(now.config, addresses) };
  });
}
