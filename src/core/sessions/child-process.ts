import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { which } from '../exec/which';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // last resort on a normal exit; a SIGKILLed app is covered by the kernel's parent-death signal
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface SupervisedSpawn {
  child: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error: string | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a media process (argv, never a shell) that cannot outlive this one: through `setpriv
 * --pdeathsig SIGKILL` where util-linux has it, so the kernel kills it even if this process is
 * SIGKILLed; and killed on exit otherwise. Each child is reaped (no zombies).
 */
export function spawnTied(file: string, args: readonly string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe'], env?: NodeJS.ProcessEnv): SupervisedSpawn {
  installExitHook();
  const setpriv = which('setpriv');
  const child = setpriv ? spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', file, ...args], { stdio, env }) : spawn(file, [...args], { stdio, env });
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error: string | null }>((resolve) => {
    let spawnError: string | null = null;
    child.once('error', (error) => {
      spawnError = error.message;
      live.delete(child);
      resolve({ code: null, signal: null, error: spawnError });
    });
    // 'close' (not 'exit'): stdout and stderr are drained by then, so a last progress block is not lost
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, error: spawnError });
    });
  });
  const stop = async (graceMs = 2000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      await exited;
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, exited, stop };
}

/** How many media processes this process has running (tests assert no leftovers). */
export function liveChildren(): number {
  return live.size;
}

/** A process's last two lines of stderr, for an error sentence (ffmpeg's repeats and context addresses dropped). */
export function lastLines(text: string): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim() && !/Last message repeated/.test(line))
    .slice(-2)
    .join(' / ')
    .replace(/ @ 0x[0-9a-f]+\]/g, ']') // ffmpeg's context addresses differ from run to run
    .slice(0, 400);
}
