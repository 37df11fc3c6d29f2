// The helper's `sriov <PF> <N>` verb: sets a physical function's number of SR-IOV virtual functions.
// The kernel changes a non-zero count only through 0 (EBUSY otherwise), so a change between two
// non-zero counts writes 0 first. Refused while a VF is on vfio-pci or its /dev/vfio/<group> is open
// (a VM would lose its device). The journal holds the previous count: a failed run puts it back
// itself, a killed one is put back at the next start. Only node: built-ins and this folder's files.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Refusal, deviceDir, linkBdf, linkName, readDevice, vfioHolders } from './sysfs';
import type { HelperConfig, HelperResult, Journal } from './helper';

/** What the verb needs from the helper: its journaled, killable step, the journal and the audit log. */
export interface SriovIo {
  step(journal: Journal | null, what: string, path: string, value: string): Promise<void>;
  saveJournal(journal: Journal): void;
  clearJournal(): void;
  audit(action: string, target: string | null, result: 'ok' | 'refused' | 'failed', detail: string | null): void;
}

/** The count argument: a plain decimal integer (no sign, no leading zero, no spaces, at most 5 digits). */
export function checkVfCount(value: unknown): number {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,4})$/.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new Refusal(`the number of virtual functions ${shown} is not a plain decimal integer such as 0 or 4`);
  }
  return Number(value);
}

function readCount(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^[0-9]{1,5}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** The PF's current VFs (its `virtfnN` links), in N order. */
export function listVfs(root: string, pf: string): string[] {
  const dir = deviceDir(root, pf);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^virtfn[0-9]{1,5}$/.test(n));
  } catch {
    return [];
  }
  return names
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((n) => linkBdf(join(dir, n)))
    .filter((v): v is string => v !== null);
}

function numvfsPath(root: string, pf: string): string {
  return join(deviceDir(root, pf), 'sriov_numvfs');
}

function driverOf(root: string, bdf: string): string | null {
  return linkName(join(deviceDir(root, bdf), 'driver'));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (up to timeoutMs) until the kernel says `want` VFs and shows exactly `want` virtfn links. */
async function settle(root: string, pf: string, want: number, timeoutMs: number): Promise<{ numvfs: number | null; links: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const numvfs = readCount(numvfsPath(root, pf));
    const links = listVfs(root, pf);
    if ((numvfs === want && links.length === want) || Date.now() >= deadline) return { numvfs, links };
    await sleep(50);
  }
}

/** Writes the count the kernel way: through 0 when both counts are non-zero. */
async function writeCount(io: SriovIo, root: string, journal: Journal | null, pf: string, from: number, to: number): Promise<void> {
  if (from !== 0 && to !== 0) await io.step(journal, `${pf}: sriov_numvfs=0 (the kernel changes a non-zero count only through 0)`, numvfsPath(root, pf), '0');
  await io.step(journal, `${pf}: sriov_numvfs=${to}`, numvfsPath(root, pf), String(to));
}

/** Puts the PF back to its previous count (from a journal or a failed run); true when the kernel shows it. */
export async function rollbackSriov(io: SriovIo, cfg: HelperConfig, journal: Journal): Promise<boolean> {
  const pf = journal.target;
  const previous = journal.previousVfs ?? 0;
  try {
    const now = readCount(numvfsPath(cfg.root, pf));
    if (now === null) return false;
    if (now !== previous) {
      if (now !== 0) await io.step(null, `${pf}: sriov_numvfs=0 (rollback)`, numvfsPath(cfg.root, pf), '0');
      if (previous !== 0) await io.step(null, `${pf}: sriov_numvfs=${previous} (rollback to the previous count)`, numvfsPath(cfg.root, pf), String(previous));
    }
  } catch {
    // reported below: the count is not the previous one
  }
  const back = await settle(cfg.root, pf, previous, cfg.timeoutMs);
  const ok = back.numvfs === previous && back.links.length === previous;
  if (ok) io.clearJournal();
  return ok;
}

function answerDevices(root: string, pf: string, before: Map<string, string | null>): HelperResult['devices'] {
  return listVfs(root, pf).map((vf) => ({ address: vf, before: before.get(vf) ?? null, after: driverOf(root, vf) }));
}

export async function runSriov(io: SriovIo, cfg: HelperConfig, result: HelperResult, pf: string, want: number): Promise<{ exitCode: number; result: HelperResult }> {
  const dev = readDevice(cfg.root, pf);
  if (!dev) throw new Refusal(`no PCI device ${pf} on this host`);
  if (dev.physfn !== null) throw new Refusal(`${pf} is itself a virtual function (of ${dev.physfn}); give the physical function`);
  const total = readCount(join(deviceDir(cfg.root, pf), 'sriov_totalvfs'));
  if (total === null || total === 0) throw new Refusal(`${pf} does not support SR-IOV (no sriov_totalvfs, or it is 0)`);
  if (want > total) throw new Refusal(`${pf} supports at most ${total} virtual functions (sriov_totalvfs), not ${want}`);
  const current = readCount(numvfsPath(cfg.root, pf));
  if (current === null) throw new Refusal(`cannot read ${pf}'s sriov_numvfs`);
  const pfDriver = driverOf(cfg.root, pf);
  if (pfDriver === null) throw new Refusal(`${pf} has no driver: the kernel only changes SR-IOV through the physical function's driver (bind it first)`);

  const vfs = listVfs(cfg.root, pf);
  const before = new Map(vfs.map((vf) => [vf, driverOf(cfg.root, vf)] as const));
  if (want === current && vfs.length === current) {
    result.ok = true;
    result.devices = answerDevices(cfg.root, pf, before);
    io.audit('sriov', pf, 'ok', `${pf} already has ${want} virtual functions`);
    return { exitCode: 0, result };
  }
  for (const vf of vfs) {
    const group = readDevice(cfg.root, vf)?.group ?? null;
    const holders = group === null ? [] : vfioHolders(cfg.root, group);
    if (before.get(vf) === 'vfio-pci' || holders.length > 0) {
      const why = holders.length > 0 ? `/dev/vfio/${group} is held open by ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')}` : `${vf} is on vfio-pci`;
      result.error = { code: 'BUSY', message: `${why}: changing ${pf}'s virtual functions would remove it; restore it (shut the VM down) first` };
      io.audit('sriov', pf, 'refused', result.error.message);
      return { exitCode: 2, result };
    }
  }

  const journal: Journal = { version: 1, verb: 'sriov', target: pf, pid: process.pid, startedAt: new Date().toISOString(), devices: [], step: 'start', previousVfs: current, requestedVfs: want };
  io.saveJournal(journal);
  try {
    await writeCount(io, cfg.root, journal, pf, current, want);
    const got = await settle(cfg.root, pf, want, cfg.timeoutMs);
    if (got.numvfs !== want || got.links.length !== want) {
      throw new Error(`verification failed: sriov_numvfs reads ${got.numvfs ?? 'nothing'} and ${got.links.length} virtfn links exist, expected ${want}`);
    }
  } catch (error) {
    const timedOut = (error as { timedOut?: unknown }).timedOut === true;
    // A timed-out write is still pending in the kernel (a further write would block behind it): the
    // journal stays and the next start puts the previous count back, as for a timed-out restore.
    const rolled = timedOut ? false : await rollbackSriov(io, cfg, journal);
    result.rolledBack = rolled;
    const tail = timedOut
      ? `the kernel is still working on it; the journal puts ${current} back at the next run`
      : rolled
        ? `${pf} is back to its previous ${current} virtual functions`
        : `rollback to ${current} incomplete, see steps (the journal retries at the next run)`;
    const message = `${(error as Error).message}; ${tail}`;
    result.error = { code: timedOut ? 'TIMEOUT' : 'FAILED', message };
    result.devices = answerDevices(cfg.root, pf, before);
    io.audit('sriov', pf, 'failed', message);
    return { exitCode: 1, result };
  }
  io.clearJournal();
  result.ok = true;
  result.devices = answerDevices(cfg.root, pf, before);
  io.audit('sriov', pf, 'ok', `${pf} (${pfDriver}): ${current} -> ${want} virtual functions${want > 0 ? `: ${result.devices.map((d) => d.address).join(', ')}` : ''}`);
  return { exitCode: 0, result };
}
