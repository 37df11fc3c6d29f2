import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../exec/run-command';

/** The helper's JSON answer (see src/helper/helper.ts: HelperResult). */
export interface HelperAnswer {
  ok: boolean;
  verb: string;
  target: string | null;
  devices: Array<{ address: string; before: string | null; after: string | null }>;
  steps: Array<{ what: string; path: string; value: string; ok: boolean; ms: number; error: string | null }>;
  rolledBack: boolean;
  recovered: string | null;
  verification: { drivers: boolean; vfioNodes: boolean; viable: boolean } | null;
  error: { code: string; message: string } | null;
}

export const INSTALLED_HELPER = '/usr/lib/gpu-bridge/gpu-bridge-helper';

/** The installed helper, else the one built next to this bundle (out/helper/index.mjs). */
export function helperPath(): string {
  if (existsSync(INSTALLED_HELPER)) return INSTALLED_HELPER;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'helper', 'index.mjs'), join(here, '..', '..', '..', 'out', 'helper', 'index.mjs')]) {
    if (existsSync(candidate)) return candidate;
  }
  return INSTALLED_HELPER;
}

/**
 * Runs the helper: directly when already root, else through pkexec (the polkit policy names the installed path).
 * With GPU_BRIDGE_HELPER_ROOT set (tests: a fake tree) it runs directly as this user: pkexec would refuse it.
 */
export async function runHelper(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<HelperAnswer> {
  const helper = helperPath();
  const env = options.env ?? process.env;
  const asRoot = process.getuid?.() === 0 || (env.GPU_BRIDGE_HELPER_ROOT !== undefined && env.GPU_BRIDGE_HELPER_ROOT !== '' && env.GPU_BRIDGE_HELPER_ROOT !== '/');
  const argv = helper.endsWith('.mjs') ? [process.execPath, helper, ...args] : [helper, ...args];
  const [file, ...rest] = asRoot ? argv : ['pkexec', ...argv];
  const res = await runCommand(file as string, rest, { timeoutMs: options.timeoutMs ?? 120_000, env });
  const line = res.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as HelperAnswer;
  } catch {
    const why = res.spawnError ?? (res.timedOut ? 'timed out' : res.code === 126 || res.code === 127 ? 'authorization was refused or pkexec is missing' : res.stderr.trim().slice(0, 300));
    return { ok: false, verb: args[0] ?? '', target: args[1] ?? null, devices: [], steps: [], rolledBack: false, recovered: null, verification: null, error: { code: 'FAILED', message: `the helper gave no answer: ${why}` } };
  }
}
