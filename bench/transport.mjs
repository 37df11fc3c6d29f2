// bench/transport: what the rtp transport costs at 4K60, per end, against a bare Node UDP forward (see
// bench/transport-run.ts). Bundles bench/transport-run.ts with vite and runs it; the first run makes the
// pre-encoded streams with ffmpeg (libx264) under .cache/transport/.
// Usage: node bench/transport.mjs (BENCH_SECONDS=N per run, BENCH_RATES=8,100, BENCH_PROF=DIR for CPU profiles)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
mkdirSync(join(repo, 'out'), { recursive: true });
// inside the repository (out/ is ignored) so the bundle resolves packages from node_modules
const dir = mkdtempSync(join(repo, 'out', 'bench-transport-'));
let code = 1;
try {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: join(repo, 'bench/transport-run.ts'),
      outDir: dir,
      emptyOutDir: false,
      target: 'node20',
      rollupOptions: { external: [/^node:/, ...builtinModules, /^[a-z@][^:]*$/], output: { format: 'es', entryFileNames: 'bench.mjs' } },
    },
  });
  const child = spawn(process.execPath, [join(dir, 'bench.mjs')], { stdio: 'inherit', cwd: repo, env: { ...process.env, BENCH_REPO: repo } });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((done) => child.once('close', (status, signal) => done(status ?? (signal ? 130 : 1))));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
