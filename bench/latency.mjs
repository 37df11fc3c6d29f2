// bench/latency: capture-to-decode latency of our streaming pipeline vs a naive ffmpeg pipeline, from an
// Xvfb display over SRT on loopback, at 1280x720@30, 1280x720@60 and 1920x1080@30. Bundles
// bench/latency-run.ts with vite (as the CLI build does) and runs it; Ctrl-C stops every process it
// started. Needs Xvfb and ffmpeg (with libx264, libsrt, x11grab, sdl2). Usage: node bench/latency.mjs
// (BENCH_SECONDS=N: seconds measured per pipeline and size, default 7)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
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
