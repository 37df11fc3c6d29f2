// Every sysfs write runs in its own short-lived child process with a deadline. A write the kernel
// blocks (unbinding vfio-pci while a process holds the device) cannot hang the helper: the child is
// killed and the helper reports the timeout. Only node: built-ins.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface WriteResult {
  ok: boolean;
  timedOut: boolean;
  error: string | null;
  ms: number;
}

/** coreutils or busybox `tee`: a tiny process to start (node would take seconds on a slow machine). */
const TEE = ['/usr/bin/tee', '/bin/tee'].find((p) => existsSync(p)) ?? null;
const WRITER = "const fs=require('fs');try{fs.writeFileSync(process.argv[1],process.argv[2]);}catch(e){process.stderr.write(String(e&&e.code||e));process.exit(3);}";

/** `writer` (tests only, see HelperConfig.writer) replaces tee: the same argv and stdin, a fake kernel behind it. */
export function killableWrite(path: string, value: string, timeoutMs: number, writer: string | null = null): Promise<WriteResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    // The value goes through stdin, the path as one argv element: no shell anywhere.
    const tee = writer ?? TEE;
    const child = tee
      ? spawn(tee, [path], { stdio: ['pipe', 'ignore', 'pipe'], detached: true })
      : spawn(process.execPath, ['-e', WRITER, path, value], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    if (tee) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(value);
    }
    const finish = (result: Omit<WriteResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, ms: Date.now() - started });
    };
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      // A task stuck in the kernel stays until the device is released; do not wait for it.
      child.stderr?.destroy();
      child.unref();
      finish({ ok: false, timedOut: true, error: `write of ${JSON.stringify(value)} to ${path} did not finish within ${timeoutMs} ms` });
    }, timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 400) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => finish({ ok: false, timedOut: false, error: error.message }));
    child.on('close', (code) => {
      if (code === 0) finish({ ok: true, timedOut: false, error: null });
      else finish({ ok: false, timedOut: false, error: `write of ${JSON.stringify(value)} to ${path} failed: ${stderr.trim() || `exit ${code}`}` });
    });
  });
}
