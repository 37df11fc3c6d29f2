// Runs bench/dashboard-run.ts (bundled with vite, like the CLI) after bundling the baseline page
// bench/dashboard-naive.tsx for the browser. Needs a build (`npm run build`: the CLI and the renderer)
// and Debian's Chromium. Usage: node bench/dashboard.mjs  (BENCH_MEASURE_S=N: seconds measured per page)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { build } from 'vite';
import { runBench } from './sampler.mjs';

const repo = resolve(import.meta.dirname, '..');
if (!existsSync(join(repo, 'out/cli/index.mjs')) || !existsSync(join(repo, 'out/renderer/index.html'))) {
  console.error('bench/dashboard: run `npm run build` first (it serves out/renderer through out/cli)');
  process.exit(1);
}
const dir = mkdtempSync(join(repo, 'out', 'bench-naive-'));
try {
  await build({
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      outDir: dir,
      emptyOutDir: false,
      minify: true,
      lib: { entry: join(repo, 'bench/dashboard-naive.tsx'), formats: ['iife'], name: 'naive', fileName: () => 'naive.js' },
    },
  });
  await runBench('bench/dashboard-run.ts', { BENCH_NAIVE_JS: join(dir, 'naive.js') });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
