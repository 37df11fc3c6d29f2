// Runs bench/sampler-run.ts: compiles the NVML stub with gcc, bundles the TypeScript with vite (as the
// CLI build does), then runs it. Usage: node bench/sampler.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

export async function runBench(entry, extraEnv = {}) {
  const repo = resolve(import.meta.dirname, '..');
  // Inside the repository (out/ is ignored) so the bundle resolves packages from node_modules.
  const dir = mkdtempSync(join(repo, 'out', 'bench-'));
  try {
    const stub = join(dir, 'libnvidia-ml.so.1');
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', stub, join(repo, 'tests/fixtures/nvml-stub/nvml_stub.c')]);
    await build({
      configFile: false,
      logLevel: 'warn',
      build: {
        ssr: join(repo, entry),
        outDir: dir,
        emptyOutDir: false,
        target: 'node20',
        rollupOptions: { external: [/^node:/, ...builtinModules, /^[a-z@][^:]*$/], output: { format: 'es', entryFileNames: 'bench.mjs' } },
      },
    });
    execFileSync('node', [join(dir, 'bench.mjs')], {
      stdio: 'inherit',
      cwd: repo,
      env: { ...process.env, BENCH_REPO: repo, BENCH_NVML_STUB: stub, ...extraEnv },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runBench('bench/sampler-run.ts');
