// bench/pacing: paced vs unpaced rtp through a narrow link with a short queue (bench/pacing-run.ts).
// Bundles the TypeScript with vite (as the CLI build does) and runs it. Needs nothing but Node.
// Usage: node bench/pacing.mjs (BENCH_SECONDS, BENCH_KBPS, BENCH_CAP_KBPS, BENCH_QUEUE_MS to change the run)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
mkdirSync(join(repo, 'out'), { recursive: true });
// inside the repository (out/ is ignored) so the bundle resolves packages from node_modules
const dir = mkdtempSync(join(repo, 'out', 'bench-pacing-'));
let code = 1;
try {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: join(repo, 'bench/pacing-run.ts'),
      outDir: dir,
      emptyOutDir: false,
      target: 'node20',
      rollupOptions: { external: [/^node:/, ...builtinModules, /^[a-z@][^:]*$/], output: { format: 'es', entryFileNames: 'bench.mjs' } },
    },
  });
  const child = spawn('node', [join(dir, 'bench.mjs')], { stdio: 'inherit', cwd: repo });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((done) => child.once('close', (status, signal) => done(status ?? (signal ? 130 : 1))));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
