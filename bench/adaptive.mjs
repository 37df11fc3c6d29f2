// bench/adaptive: the bitrate through a bottleneck that comes and lifts (bench/adaptive-run.ts), the whole self-test pipeline.
// Bundles the TypeScript with vite (as the CLI build does) and runs it. Needs ffmpeg with libx264; builds the CLI when it is missing (the peer process is `gpu-bridge peer receive`).
// Usage: node bench/adaptive.mjs (BENCH_KBPS, BENCH_CAP_KBPS, BENCH_QUEUE_MS to change the run)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
if (!existsSync(join(repo, 'out', 'cli', 'index.mjs')) && spawnSync(process.execPath, [join(repo, 'scripts', 'build-cli.mjs')], { stdio: 'inherit', cwd: repo }).status !== 0) process.exit(1);
mkdirSync(join(repo, 'out'), { recursive: true });
// inside the repository (out/ is ignored) so the bundle resolves packages from node_modules
const dir = mkdtempSync(join(repo, 'out', 'bench-adaptive-'));
let code = 1;
try {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: join(repo, 'bench/adaptive-run.ts'),
      outDir: dir,
      emptyOutDir: false,
      target: 'node20',
      rollupOptions: { external: [/^node:/, ...builtinModules, /^[a-z@][^:]*$/], output: { format: 'es', entryFileNames: 'bench.mjs' } },
    },
  });
  const child = spawn('node', [join(dir, 'bench.mjs')], { stdio: 'inherit', cwd: repo, env: { ...process.env, BENCH_REPO: repo } });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((done) => child.once('close', (status, signal) => done(status ?? (signal ? 130 : 1))));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
