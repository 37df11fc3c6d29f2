import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve(__dirname, '../../out/cli/index.mjs');

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolves with the first match of `pattern` in stdout+stderr, or rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return {
    child,
    output: () => text,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolveMatch(match);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${text}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before ${pattern}; output:\n${text}`));
          }
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ServeHandle {
  cli: RunningCli;
  origin: string;
  url: string;
  token: string;
  port: number;
}

export async function startServe(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServeHandle> {
  const cli = spawnCli(['serve', '--port', '0', ...extra], env);
  const [, origin] = await cli.waitFor(/listening on (\S+)/);
  const [, url] = await cli.waitFor(/^\s+(\S+\?token=\S+)$/m);
  const token = new URL(url!).searchParams.get('token')!;
  return { cli, origin: origin!, url: url!, token, port: Number(new URL(origin!).port) };
}

/** Runs the CLI to completion and parses the last line it printed as JSON (commands run with --json). */
export function cliJson(args: string[]): Record<string, unknown> {
  const out = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** A fresh one-time pairing URI from the running `peer run` whose config is in `peerDir`. */
export function pairingUri(peerDir: string): string {
  return cliJson(['peer', 'pair', '--json', '--config-dir', peerDir]).uri as string;
}

/** Pairs the host in `hostDir` with the running peer in `peerDir`; returns the host's record of the peer. */
export function pairHostWithPeer(peerDir: string, hostDir: string, hostName = 'workstation'): Record<string, unknown> {
  return cliJson(['pair', pairingUri(peerDir), '--json', '--config-dir', hostDir, '--name', hostName]);
}
