// bench/latency: capture-to-decode latency at 720p60 from an Xvfb display: the plain-UDP floor, ours over
// rtp and over srt, and a naive ffmpeg pipeline, on loopback and through an emulated link (see
// bench/latency-run.ts). Bundles bench/latency-run.ts with vite (as the CLI build does), builds the CLI
// when it is missing (the bench's peer process is `gpu-bridge peer receive`), and runs it; Ctrl-C stops
// every process it started. Needs Xvfb and ffmpeg (with libx264, libsrt, x11grab, sdl2).
// Usage: node bench/latency.mjs (BENCH_SECONDS=N: seconds measured per run, default 7)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
if (!existsSync(join(repo, 'out', 'cli', 'index.mjs')) && spawnSync(process.execPath, [join(repo, 'scripts', 'build-cli.mjs')], { stdio: 'inherit', cwd: repo }).status !== 0) process.exit(1);
// inside the repository (out/ is ignored) so the bundle resolves packages from node_modules
const dir = mkdtempSync(join(repo, 'out', 'bench-latency-'));
let code = 1;
try {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: join(repo, 'bench/latency-run.ts'),
      outDir: dir,
      emptyOutDir: false,
      target: 'node20',
      rollupOptions: { external: [/^node:/, ...builtinModules, /^[a-z@][^:]*$/], output: { format: 'es', entryFileNames: 'bench.mjs' } },
    },
  });
  const child = spawn('node', [join(dir, 'bench.mjs')], { stdio: 'inherit', cwd: repo, env: { ...process.env, BENCH_REPO: repo } });
  // the run cleans up on SIGINT/SIGTERM; pass them on (a terminal's Ctrl-C reaches both anyway)
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((done) => child.once('close', (status, signal) => done(status ?? (signal ? 130 : 1))));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
