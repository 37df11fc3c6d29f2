import { spawn } from 'node:child_process';

export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output beyond this many bytes per stream is dropped (and `truncated` set). */
  maxOutputBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError: string | null;
}

/**
 * The one way core runs another program: an argv array (never a shell string), a hard timeout after
 * which the whole process group is killed, and bounded output.
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { timeoutMs = 30_000, maxOutputBytes = 16 * 1024 * 1024 } = options;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let spawnError: string | null = null;
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const collect = (chunks: Buffer[], isOut: boolean) => (chunk: Buffer) => {
      const used = isOut ? outBytes : errBytes;
      if (used >= maxOutputBytes) {
        truncated = true;
        return;
      }
      const slice = chunk.subarray(0, maxOutputBytes - used);
      if (slice.length < chunk.length) truncated = true;
      chunks.push(slice);
      if (isOut) outBytes += slice.length;
      else errBytes += slice.length;
    };
    child.stdout.on('data', collect(out, true));
    child.stderr.on('data', collect(err, false));
    child.stdin.on('error', () => undefined);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.on('error', (error) => {
      spawnError = error.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        truncated,
        spawnError,
      });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
