// `gpu-bridge passthrough persist`: the dry-run diff (default), --apply (with --yes or a typed "yes"), and
// --undo. Writes go to `/` (as root) or to an alternate root given with --root DIR (a fake tree in tests).
import { createInterface } from 'node:readline/promises';
import { openRoot } from './snapshot-root';
import { runCommand } from '../../core/exec/run-command';
import { computePlan } from '../../core/passthrough/plan';
import { applyPersistent, appliedSetup, undoPersistent } from '../../core/passthrough/persist-apply';
import { PersistRefusal, checkRoot } from '../../core/passthrough/persist-fs';
import { persistRefusal, planPersistentSetup, unifiedDiff, type PersistentSetup } from '../../core/passthrough/persistent';
import { CliError } from '../command';

export interface PersistArgs {
  address: string | undefined;
  json: boolean;
  from: string | undefined;
  root: string | undefined;
  apply: boolean;
  yes: boolean;
  undo: boolean;
  force: boolean;
}

const out = (text: string) => process.stdout.write(text);

function checkCombination(a: PersistArgs): void {
  const bad =
    a.from !== undefined && a.root !== undefined ? '--from and --root: give one'
    : a.from !== undefined && (a.apply || a.undo) ? '--from is a read-only snapshot; use --root DIR to write to an alternate root'
    : a.apply && a.undo ? '--apply and --undo: give one'
    : a.yes && !a.apply ? '--yes only goes with --apply'
    : a.force && !a.undo ? '--force only goes with --undo'
    : a.address === undefined && !a.undo ? 'missing PCI address'
    : null;
  if (bad) throw new CliError(bad, 2);
}

function requirePrivilege(root: string): void {
  if (root === '/' && process.getuid?.() !== 0) {
    throw new CliError('writing /etc and /boot needs root: run it as root (sudo gpu-bridge passthrough persist ...), or write to an alternate root with --root DIR. Nothing was written', 2);
  }
}

async function confirm(a: PersistArgs, count: number): Promise<void> {
  if (a.yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new CliError('--apply writes the files above only with --yes (or a typed "yes" on a terminal). Nothing was written', 2);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`write these ${count} file(s), keeping backups? type "yes": `);
    if (answer.trim() !== 'yes') throw new CliError('not confirmed. Nothing was written', 2);
  } finally {
    rl.close();
  }
}

/** Runs the regenerate commands on the live host; under an alternate root they are listed, not run. */
async function runAfter(root: string, commands: string[][]): Promise<Array<{ argv: string[]; ran: boolean; code: number | null; error: string | null }>> {
  const results: Array<{ argv: string[]; ran: boolean; code: number | null; error: string | null }> = [];
  let failed = false;
  for (const argv of commands) {
    if (root !== '/' || failed) {
      results.push({ argv, ran: false, code: null, error: failed ? 'skipped after an earlier failure' : 'alternate root: run it inside that system' });
      continue;
    }
    const [file, ...rest] = argv as [string, ...string[]];
    const r = await runCommand(file, rest, { timeoutMs: 15 * 60_000 });
    const error = r.code === 0 ? null : (r.spawnError ?? (r.timedOut ? 'timed out' : r.stderr.trim().slice(-300) || `exit ${r.code}`));
    failed = error !== null;
    results.push({ argv, ran: true, code: r.code, error });
  }
  return results;
}

function printCommands(results: Awaited<ReturnType<typeof runAfter>>): void {
  for (const r of results) out(r.ran ? `${r.error ? 'FAIL' : 'ok  '} ran ${r.argv.join(' ')}${r.error ? `: ${r.error}` : ''}\n` : `# not run (${r.error}): ${r.argv.join(' ')}\n`);
}

async function undo(a: PersistArgs, root: string): Promise<number> {
  requirePrivilege(root);
  const applied = await appliedSetup(root);
  if (applied && a.address !== undefined && applied.target !== a.address) throw new CliError(`the applied setup is for ${applied.target}, not ${a.address}. Nothing was changed`, 2);
  const r = await undoPersistent(root, { force: a.force });
  const commands = await runAfter(root, r.commands);
  if (a.json) out(`${JSON.stringify({ undone: true, target: r.target, restored: r.restored, commands }, null, 2)}\n`);
  else {
    for (const f of r.restored) out(`${f.removed ? 'removed ' : 'restored'} ${f.path}\n`);
    printCommands(commands);
  }
  return commands.some((c) => c.error !== null && c.ran) ? 1 : 0;
}

async function readSetup(a: PersistArgs, root: string): Promise<PersistentSetup> {
  const snap = await openRoot(a.from, root);
  try {
    const plan = await computePlan(snap.root, a.address as string);
    if (!plan.viable) throw new CliError(`${a.address} cannot be passed through: ${plan.blockers.map((b) => b.message).join('; ')}`, 3);
    const refusal = await persistRefusal(snap.root, plan);
    if (refusal !== null) throw new CliError(`persist refused: ${refusal}. Nothing was written`, 3);
    return await planPersistentSetup(snap.root, plan);
  } finally {
    await snap.close();
  }
}

function printDiff(setup: PersistentSetup, header: string): void {
  out(`${header} (${setup.boot.distro ?? 'unknown distro'}, ${setup.boot.bootloader}, ${setup.boot.initramfs})\n`);
  for (const c of setup.changes) out(unifiedDiff(c));
  for (const n of setup.notes) out(`# note: ${n}\n`);
}

async function persist(a: PersistArgs): Promise<number> {
  checkCombination(a);
  const root = a.root ?? '/';
  if (a.root !== undefined) await checkRoot(a.root);
  if (a.undo) return undo(a, root);
  if (a.apply) requirePrivilege(root);
  const setup = await readSetup(a, root);
  if (!a.apply) {
    if (a.json) out(`${JSON.stringify(setup, null, 2)}\n`);
    else {
      printDiff(setup, '# dry run: nothing was written');
      for (const cmd of setup.commands) out(`# then run: ${cmd.join(' ')}\n`);
      const applied = a.from === undefined ? await appliedSetup(root).catch(() => null) : null;
      if (applied) out(`# a setup for ${applied.target} is applied (${applied.appliedAt}); gpu-bridge passthrough persist --undo restores the original files\n`);
      else out(`# to write these files with backups: gpu-bridge passthrough persist ${a.address}${a.root ? ` --root ${a.root}` : ''} --apply --yes\n`);
    }
    return 0;
  }
  if (!a.json) printDiff(setup, '# apply');
  await confirm(a, setup.changes.length);
  const r = await applyPersistent(root, setup, a.address as string);
  if (r.files.length === 0) {
    out(a.json ? `${JSON.stringify({ applied: false, target: a.address, files: [], commands: [], notes: setup.notes }, null, 2)}\n` : 'nothing to write: these files already have the setup\n');
    return 0;
  }
  const commands = await runAfter(root, setup.commands);
  if (a.json) out(`${JSON.stringify({ applied: true, target: a.address, backupDir: r.backupDir, files: r.files, commands, notes: setup.notes }, null, 2)}\n`);
  else {
    for (const f of r.files) out(`wrote ${f.path}${f.created ? ' (new)' : ''}\n`);
    out(`backups: ${r.backupDir} (gpu-bridge passthrough persist --undo${a.root ? ` --root ${a.root}` : ''} restores them)\n`);
    printCommands(commands);
    out('reboot for the new kernel command line and initramfs to take effect\n');
  }
  return commands.some((c) => c.error !== null && c.ran) ? 1 : 0;
}

/** The persist subcommand; a refusal (bad root, symlink, already applied, edited since) exits 2 with nothing written. */
export async function runPersist(a: PersistArgs): Promise<number> {
  try {
    return await persist(a);
  } catch (error) {
    if (error instanceof PersistRefusal) throw new CliError(error.message, 2);
    throw error;
  }
}
