// The privileged helper's verbs: bind, restore, rollback, sriov (src/helper/sriov.ts). Every argument
// is validated against the plan the helper computes itself before anything is written; a journal is
// written before each step so an interrupted run is rolled back at the next start; every action is
// appended to an audit log.
// Only node: built-ins and this folder's files: it runs as root.
import { appendFileSync, fsyncSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { checkVfCount, rollbackSriov, runSriov, type SriovIo } from './sriov';
import { BDF_RE, Refusal, checkBdf, computePlan, existsPath, groupMembers, linkName, readDevice, vfioHolders, type HelperPlan } from './sysfs';
import { killableWrite } from './write';

export const VERBS = ['bind', 'restore', 'rollback', 'sriov'] as const;
export type Verb = (typeof VERBS)[number];

export interface HelperConfig {
  root: string;
  stateDir: string;
  timeoutMs: number;
  who: string;
  /** Tests only (the crash-rollback test): stop forever after this many successful writes. */
  pauseAfterSteps: number | null;
  /** Tests only (the fake-sysfs wizard test): the program that performs each write instead of tee, a fake kernel. */
  writer: string | null;
}

export interface StepRecord {
  what: string;
  path: string;
  value: string;
  ok: boolean;
  ms: number;
  error: string | null;
}

export interface DeviceState {
  address: string;
  group: number | null;
  originalDriver: string | null;
  originalOverride: string | null;
}

export interface Journal {
  version: 1;
  verb: 'bind' | 'restore' | 'sriov';
  target: string;
  pid: number;
  startedAt: string;
  devices: DeviceState[];
  step: string;
  /** sriov only: the PF's count before the run, what a rollback puts back (absent from older journals). */
  previousVfs?: number;
  requestedVfs?: number;
}

export interface HelperResult {
  ok: boolean;
  verb: string;
  target: string | null;
  devices: Array<{ address: string; before: string | null; after: string | null }>;
  steps: StepRecord[];
  rolledBack: boolean;
  recovered: string | null;
  verification: { drivers: boolean; vfioNodes: boolean; viable: boolean } | null;
  error: { code: 'REFUSED' | 'FAILED' | 'TIMEOUT' | 'BUSY'; message: string } | null;
}

const TEST_ENV = ['GPU_BRIDGE_HELPER_ROOT', 'GPU_BRIDGE_HELPER_STATE_DIR', 'GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS', 'GPU_BRIDGE_HELPER_WRITER'] as const;

/** The test-only writer: only with a fake tree, an absolute path to an existing program, run with argv, never a shell. */
function writerFromEnv(value: string | undefined, root: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  if (root === undefined || root === '' || root === '/') throw new Refusal('GPU_BRIDGE_HELPER_WRITER only works on a fake tree (GPU_BRIDGE_HELPER_ROOT)');
  if (!isAbsolute(value) || !existsPath(value)) throw new Refusal('GPU_BRIDGE_HELPER_WRITER must be an absolute path to a program');
  return value;
}

/** Reads the helper's configuration. Test overrides are refused when the helper runs through pkexec. */
export function configFromEnv(env: NodeJS.ProcessEnv, argvTimeout: number | null): HelperConfig {
  const overrides = TEST_ENV.filter((name) => env[name] !== undefined && env[name] !== '');
  if (overrides.length > 0 && env.PKEXEC_UID !== undefined) {
    throw new Refusal(`${overrides.join(', ')} is for tests only and is refused under pkexec`);
  }
  let who = env.PKEXEC_UID !== undefined ? `uid:${env.PKEXEC_UID}` : '';
  if (!who) {
    try {
      who = userInfo().username;
    } catch {
      who = `uid:${process.getuid?.() ?? '?'}`;
    }
  }
  return {
    root: env.GPU_BRIDGE_HELPER_ROOT || '/',
    stateDir: env.GPU_BRIDGE_HELPER_STATE_DIR || '/var/lib/gpu-bridge',
    timeoutMs: argvTimeout ?? 10_000,
    who,
    pauseAfterSteps: /^\d{1,3}$/.test(env.GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS ?? '') ? Number(env.GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS) : null,
    writer: writerFromEnv(env.GPU_BRIDGE_HELPER_WRITER, env.GPU_BRIDGE_HELPER_ROOT),
  };
}

export interface ParsedArgs {
  verb: Verb;
  target: string | null;
  devices: string[] | null;
  /** Optional functions of the GPU's slot to move as well (bind), or to restore with it. */
  extras: string[];
  timeoutMs: number | null;
  /** sriov only: the number of virtual functions asked for. */
  vfs?: number;
}

/** `bind|restore <gpu> [--with a,b] [--devices a,b,...] [--timeout-ms N]`, `sriov <pf> <n> [--timeout-ms N]` or `rollback`. Anything else is refused. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  if (argv.length > 8) throw new Refusal('too many arguments');
  const [verb, ...rest] = argv;
  if (!VERBS.includes(verb as Verb)) throw new Refusal(`unknown verb ${JSON.stringify(String(verb).slice(0, 40))}; the verbs are ${VERBS.join(', ')}`);
  let target: string | null = null;
  let devices: string[] | null = null;
  let extras: string[] = [];
  let timeoutMs: number | null = null;
  let vfs: number | undefined;
  for (let i = 0; i < rest.length; i += 1) {
    const arg = rest[i] ?? '';
    if (arg === '--with' && verb !== 'rollback') {
      const list = rest[++i];
      if (list === undefined || list.length > 8 * 13) throw new Refusal('--with needs a comma-separated list of at most 8 PCI addresses');
      extras = [...new Set(list.split(',').map((d) => checkBdf(d, 'extra device')))];
    } else if (arg === '--devices') {
      const list = rest[++i];
      if (list === undefined || list.length > 20 * 13) throw new Refusal('--devices needs a comma-separated list of PCI addresses');
      devices = list.split(',').map((d) => checkBdf(d, 'device'));
    } else if (arg === '--timeout-ms') {
      const value = Number(rest[++i]);
      if (!Number.isInteger(value) || value < 100 || value > 120_000) throw new Refusal('--timeout-ms must be an integer from 100 to 120000');
      timeoutMs = value;
    } else if (target === null && verb !== 'rollback') {
      target = checkBdf(arg, 'target');
    } else if (verb === 'sriov' && vfs === undefined) {
      vfs = checkVfCount(arg);
    } else {
      throw new Refusal(`unexpected argument ${JSON.stringify(arg.slice(0, 40))}`);
    }
  }
  if (verb === 'sriov') {
    if (target === null || vfs === undefined) throw new Refusal('sriov needs the physical function and the number of virtual functions: sriov 0000:01:00.0 4');
    if (devices !== null || extras.length > 0) throw new Refusal('--devices and --with do not apply to sriov');
    return { verb, target, devices, extras, timeoutMs, vfs };
  }
  if (verb !== 'rollback' && target === null) throw new Refusal(`${verb} needs the GPU's PCI address`);
  return { verb: verb as Verb, target, devices, extras, timeoutMs };
}

function emptyResult(verb: string, target: string | null): HelperResult {
  return { ok: false, verb, target, devices: [], steps: [], rolledBack: false, recovered: null, verification: null, error: null };
}

function journalPath(cfg: HelperConfig): string {
  return join(cfg.stateDir, 'journal.json');
}

function writeDurable(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function saveJournal(cfg: HelperConfig, journal: Journal): void {
  mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
  writeDurable(journalPath(cfg), `${JSON.stringify(journal)}\n`);
}

export function readJournal(cfg: HelperConfig): Journal | null {
  let text: string;
  try {
    text = readFileSync(journalPath(cfg), 'utf8');
  } catch {
    return null;
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j.version !== 1 || !Array.isArray(j.devices)) return null;
    for (const d of j.devices) checkBdf(d.address, 'journal device');
    if (j.verb === 'sriov' && (!Number.isInteger(j.previousVfs) || (j.previousVfs as number) < 0 || !BDF_RE.test(String(j.target)))) return null;
    return j;
  } catch {
    return null;
  }
}

function audit(cfg: HelperConfig, action: string, target: string | null, result: 'ok' | 'refused' | 'failed', detail: string | null): void {
  try {
    mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    const line = { time: new Date().toISOString(), who: cfg.who, action: `passthrough.${action}`, target, result, detail };
    appendFileSync(join(cfg.stateDir, 'audit.jsonl'), `${JSON.stringify(line)}\n`, { mode: 0o600 });
  } catch {
    // the result on stdout still says what happened
  }
}

class StepFailure extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

function sysPath(cfg: HelperConfig, ...parts: string[]): string {
  return join(cfg.root, 'sys', 'bus', 'pci', ...parts);
}

async function step(cfg: HelperConfig, result: HelperResult, journal: Journal | null, what: string, path: string, value: string): Promise<void> {
  if (journal) {
    journal.step = what;
    saveJournal(cfg, journal);
  }
  const w = await killableWrite(path, value, cfg.timeoutMs, cfg.writer);
  result.steps.push({ what, path, value: value.trim(), ok: w.ok, ms: w.ms, error: w.error });
  if (w.ok && cfg.pauseAfterSteps !== null && result.steps.filter((s) => s.ok).length === cfg.pauseAfterSteps) {
    process.stderr.write(`gpu-bridge-helper: paused after ${cfg.pauseAfterSteps} steps (test hook)\n`);
    await new Promise(() => setInterval(() => undefined, 60_000));
  }
  if (!w.ok) throw new StepFailure(w.timedOut ? `${what} timed out after ${cfg.timeoutMs} ms (the kernel is waiting for a process to release the device): ${w.error}` : `${what} failed: ${w.error}`, w.timedOut);
}

function currentDriver(cfg: HelperConfig, bdf: string): string | null {
  return linkName(join(sysPath(cfg, 'devices', bdf), 'driver'));
}

function readOverride(cfg: HelperConfig, bdf: string): string | null {
  try {
    const v = readFileSync(join(sysPath(cfg, 'devices', bdf), 'driver_override'), 'utf8').trim();
    return v === '' || v === '(null)' ? null : v;
  } catch {
    return null;
  }
}

async function ensureVfioDriver(cfg: HelperConfig): Promise<void> {
  if (existsPath(sysPath(cfg, 'drivers', 'vfio-pci'))) return;
  if (cfg.root === '/') {
    const { spawnSync } = await import('node:child_process');
    for (const modprobe of ['/usr/sbin/modprobe', '/sbin/modprobe']) {
      if (existsPath(modprobe)) {
        spawnSync(modprobe, ['vfio-pci'], { timeout: cfg.timeoutMs, stdio: 'ignore' });
        break;
      }
    }
  }
  if (!existsPath(sysPath(cfg, 'drivers', 'vfio-pci'))) throw new StepFailure('the vfio-pci driver is not available (modprobe vfio-pci failed)', false);
}

async function moveToVfio(cfg: HelperConfig, result: HelperResult, journal: Journal, bdf: string): Promise<void> {
  const dev = sysPath(cfg, 'devices', bdf);
  await step(cfg, result, journal, `${bdf}: driver_override=vfio-pci`, join(dev, 'driver_override'), 'vfio-pci');
  const driver = currentDriver(cfg, bdf);
  if (driver !== null && driver !== 'vfio-pci') await step(cfg, result, journal, `${bdf}: unbind from ${driver}`, join(dev, 'driver', 'unbind'), bdf);
  if (currentDriver(cfg, bdf) !== 'vfio-pci') await step(cfg, result, journal, `${bdf}: drivers_probe`, sysPath(cfg, 'drivers_probe'), bdf);
}

async function moveBack(cfg: HelperConfig, result: HelperResult, journal: Journal | null, d: DeviceState): Promise<void> {
  const dev = sysPath(cfg, 'devices', d.address);
  await step(cfg, result, journal, `${d.address}: driver_override=${d.originalOverride ?? '(none)'}`, join(dev, 'driver_override'), d.originalOverride ?? '\n');
  const driver = currentDriver(cfg, d.address);
  if (driver !== null && driver !== d.originalDriver) await step(cfg, result, journal, `${d.address}: unbind from ${driver}`, join(dev, 'driver', 'unbind'), d.address);
  if (currentDriver(cfg, d.address) === null && d.originalDriver !== null) {
    await step(cfg, result, journal, `${d.address}: drivers_probe`, sysPath(cfg, 'drivers_probe'), d.address);
    if (currentDriver(cfg, d.address) === null && existsPath(sysPath(cfg, 'drivers', d.originalDriver))) {
      await step(cfg, result, journal, `${d.address}: bind to ${d.originalDriver}`, sysPath(cfg, 'drivers', d.originalDriver, 'bind'), d.address);
    }
  }
}

function verifyBound(cfg: HelperConfig, plan: HelperPlan): { drivers: boolean; vfioNodes: boolean; viable: boolean } {
  const drivers = plan.devices.every((d) => currentDriver(cfg, d.address) === 'vfio-pci');
  const vfioNodes = plan.groups.every((g) => existsPath(join(cfg.root, 'dev', 'vfio', String(g))));
  const viable = plan.groups.every((g) =>
    groupMembers(cfg.root, g).every((m) => {
      const d = readDevice(cfg.root, m);
      const drv = d?.driver ?? null;
      return d !== null && (d.isBridge || drv === null || drv === 'vfio-pci');
    }),
  );
  return { drivers, vfioNodes, viable };
}

/** What src/helper/sriov.ts uses of this file: the same step, journal and audit log as the other verbs. */
function sriovIo(cfg: HelperConfig, result: HelperResult): SriovIo {
  return {
    step: (journal, what, path, value) => step(cfg, result, journal, what, path, value),
    saveJournal: (journal) => saveJournal(cfg, journal),
    clearJournal: () => rmSync(journalPath(cfg), { force: true }),
    audit: (action, target, outcome, detail) => audit(cfg, action, target, outcome, detail),
  };
}

/** Puts every device of a journal back on its original driver (an sriov journal: the PF back to its previous count). */
async function rollbackJournal(cfg: HelperConfig, result: HelperResult, journal: Journal): Promise<boolean> {
  if (journal.verb === 'sriov') return rollbackSriov(sriovIo(cfg, result), cfg, journal);
  const failures: string[] = [];
  for (const d of [...journal.devices].reverse()) {
    try {
      await moveBack(cfg, result, null, d);
    } catch (error) {
      failures.push((error as Error).message);
    }
    const now = currentDriver(cfg, d.address);
    if (now !== d.originalDriver) failures.push(`${d.address} is on ${now ?? 'no driver'}, expected ${d.originalDriver ?? 'no driver'}`);
  }
  if (failures.length === 0) rmSync(journalPath(cfg), { force: true });
  return failures.length === 0;
}

function boundRecordPath(cfg: HelperConfig, target: string): string {
  return join(cfg.stateDir, `bound-${target.replace(/[:.]/g, '_')}.json`);
}

interface BoundRecord {
  extras: string[];
  devices: DeviceState[];
}

/** What a bind recorded (root-owned state dir); anything malformed reads as no record. */
function readBoundRecord(cfg: HelperConfig, target: string): BoundRecord | null {
  try {
    const raw = JSON.parse(readFileSync(boundRecordPath(cfg, target), 'utf8')) as Partial<BoundRecord>;
    const extras = Array.isArray(raw.extras) ? raw.extras.map((e) => checkBdf(e, 'recorded extra')) : [];
    return { extras, devices: Array.isArray(raw.devices) ? raw.devices : [] };
  } catch {
    return null;
  }
}

export async function runHelper(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<{ exitCode: number; result: HelperResult }> {
  let result = emptyResult(String(argv[0] ?? ''), null);
  let cfg: HelperConfig | null = null;
  try {
    cfg = configFromEnv(env, null);
    const args = parseArgs(argv);
    if (args.timeoutMs !== null) cfg.timeoutMs = args.timeoutMs;
    result = emptyResult(args.verb, args.target);

    // An interrupted run is rolled back before anything else happens.
    const pending = readJournal(cfg);
    if (pending) {
      const ok = await rollbackJournal(cfg, result, pending);
      result.recovered = `${ok ? 'rolled back' : 'could not fully roll back'} an interrupted ${pending.verb} of ${pending.target} (pid ${pending.pid}, step "${pending.step}")`;
      audit(cfg, 'rollback', pending.target, ok ? 'ok' : 'failed', result.recovered);
      if (!ok) {
        result.error = { code: 'FAILED', message: result.recovered };
        return { exitCode: 1, result };
      }
    }
    if (args.verb === 'rollback') {
      result.ok = true;
      result.rolledBack = pending !== null;
      if (!pending) audit(cfg, 'rollback', null, 'ok', 'no interrupted run');
      return { exitCode: 0, result };
    }

    const target = args.target as string;
    if (args.verb === 'sriov') return await runSriov(sriovIo(cfg, result), cfg, result, target, args.vfs as number);
    // A restore puts back what was bound: the extras the bind took are in its record.
    const record = args.verb === 'restore' ? readBoundRecord(cfg, target) : null;
    const restoring = args.verb === 'restore';
    const plan = computePlan(cfg.root, target, restoring && args.extras.length === 0 ? (record?.extras ?? []) : args.extras, { restoring });
    const planned = plan.devices.map((d) => d.address);
    if (args.devices) {
      const outside = args.devices.filter((d) => !planned.includes(d));
      if (outside.length > 0) throw new Refusal(`${outside.join(', ')} is not part of the plan for ${target} (plan: ${planned.join(', ')})`);
      const missing = planned.filter((d) => !args.devices?.includes(d));
      if (missing.length > 0) throw new Refusal(`the plan for ${target} also needs ${missing.join(', ')}: a group moves as a whole`);
    }
    const states: DeviceState[] = plan.devices.map((d) => ({ address: d.address, group: d.group, originalDriver: d.driver, originalOverride: readOverride(cfg as HelperConfig, d.address) }));

    if (args.verb === 'bind') {
      // GPU last when binding, so its display driver lets go after its companions.
      const order = [...states].sort((a, b) => Number(a.address === target) - Number(b.address === target));
      const journal: Journal = { version: 1, verb: 'bind', target, pid: process.pid, startedAt: new Date().toISOString(), devices: states, step: 'start' };
      saveJournal(cfg, journal);
      try {
        await ensureVfioDriver(cfg);
        for (const d of order) if (d.originalDriver !== 'vfio-pci') await moveToVfio(cfg, result, journal, d.address);
        result.verification = verifyBound(cfg, plan);
        if (!result.verification.drivers || !result.verification.vfioNodes || !result.verification.viable) {
          throw new StepFailure(`verification failed: ${JSON.stringify(result.verification)}`, false);
        }
      } catch (error) {
        const rolled = await rollbackJournal(cfg, result, journal);
        // Only a complete rollback counts: the UI tells the owner every device is back when this is true.
        result.rolledBack = rolled;
        const message = `${(error as Error).message}; ${rolled ? 'every device is back on its original driver' : 'rollback incomplete, see steps'}`;
        result.error = { code: error instanceof StepFailure && error.timedOut ? 'TIMEOUT' : 'FAILED', message };
        result.devices = states.map((d) => ({ address: d.address, before: d.originalDriver, after: currentDriver(cfg as HelperConfig, d.address) }));
        audit(cfg, 'bind', target, 'failed', message);
        return { exitCode: 1, result };
      }
      writeDurable(boundRecordPath(cfg, target), `${JSON.stringify({ target, extras: plan.extras, devices: states })}\n`);
      rmSync(journalPath(cfg), { force: true });
      result.ok = true;
      result.devices = states.map((d) => ({ address: d.address, before: d.originalDriver, after: currentDriver(cfg as HelperConfig, d.address) }));
      audit(cfg, 'bind', target, 'ok', `moved ${planned.join(', ')} to vfio-pci${plan.extras.length > 0 ? ` (asked for: ${plan.extras.join(', ')})` : ''}`);
      return { exitCode: 0, result };
    }

    // restore
    for (const g of plan.groups) {
      const holders = vfioHolders(cfg.root, g);
      if (holders.length > 0) {
        result.error = { code: 'BUSY', message: `/dev/vfio/${g} is held open by ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')}; stop it (shut the VM down) before restoring` };
        audit(cfg, 'restore', target, 'refused', result.error.message);
        return { exitCode: 2, result };
      }
    }
    const back: DeviceState[] = states.map((s) => {
      const saved = record?.devices.find((r) => r.address === s.address);
      const original = saved && saved.originalDriver !== 'vfio-pci' ? saved.originalDriver : null;
      return { address: s.address, group: s.group, originalDriver: original, originalOverride: saved?.originalOverride ?? null };
    });
    const journal: Journal = { version: 1, verb: 'restore', target, pid: process.pid, startedAt: new Date().toISOString(), devices: back, step: 'start' };
    saveJournal(cfg, journal);
    try {
      for (const d of back) {
        const dev = sysPath(cfg, 'devices', d.address);
        await step(cfg, result, journal, `${d.address}: driver_override=${d.originalOverride ?? '(none)'}`, join(dev, 'driver_override'), d.originalOverride ?? '\n');
        if (currentDriver(cfg, d.address) === 'vfio-pci') await step(cfg, result, journal, `${d.address}: unbind from vfio-pci`, join(dev, 'driver', 'unbind'), d.address);
        if (currentDriver(cfg, d.address) === null) await step(cfg, result, journal, `${d.address}: drivers_probe`, sysPath(cfg, 'drivers_probe'), d.address);
      }
      const wrong = back.filter((d) => {
        const now = currentDriver(cfg as HelperConfig, d.address);
        return now === 'vfio-pci' || (d.originalDriver !== null && now !== d.originalDriver);
      });
      if (wrong.length > 0) throw new StepFailure(`verification failed: ${wrong.map((d) => `${d.address} is on ${currentDriver(cfg as HelperConfig, d.address) ?? 'no driver'}`).join(', ')}`, false);
    } catch (error) {
      const timedOut = error instanceof StepFailure && error.timedOut;
      // A timed-out unbind is still pending in the kernel; the journal stays so the next start finishes the way back.
      const message = timedOut
        ? `restore of ${target} timed out: a process still holds the device open (the kernel waits for it to close). Close it (shut the VM down); the journal finishes the restore at the next run. ${(error as Error).message}`
        : (error as Error).message;
      result.error = { code: timedOut ? 'TIMEOUT' : 'FAILED', message };
      result.devices = back.map((d) => ({ address: d.address, before: 'vfio-pci', after: currentDriver(cfg as HelperConfig, d.address) }));
      audit(cfg, 'restore', target, 'failed', message);
      return { exitCode: 1, result };
    }
    rmSync(journalPath(cfg), { force: true });
    rmSync(boundRecordPath(cfg, target), { force: true });
    result.ok = true;
    result.verification = { drivers: true, vfioNodes: plan.groups.every((g) => !existsPath(join(cfg!.root, 'dev', 'vfio', String(g)))), viable: true };
    result.devices = back.map((d) => ({ address: d.address, before: 'vfio-pci', after: currentDriver(cfg as HelperConfig, d.address) }));
    audit(cfg, 'restore', target, 'ok', `returned ${planned.join(', ')} to their drivers`);
    return { exitCode: 0, result };
  } catch (error) {
    const refused = error instanceof Refusal;
    result.error = { code: refused ? 'REFUSED' : 'FAILED', message: (error as Error).message };
    if (cfg) audit(cfg, result.verb || 'unknown', result.target, refused ? 'refused' : 'failed', result.error.message);
    return { exitCode: refused ? 2 : 1, result };
  }
}
