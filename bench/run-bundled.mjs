// The one launcher of the TypeScript benches: bundles bench/<name>-run.ts with vite (as the CLI build
// does), inside the repository (out/ is ignored) so the bundle resolves packages from node_modules, runs it
// with BENCH_REPO set, passes Ctrl-C/SIGTERM on (the run cleans up its own processes), and exits with its
// status. `needsCli`: builds the CLI first when out/cli is missing (the benches whose peer process is
// `gpu-bridge peer receive`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

export async function runBundled(name, { needsCli = false } = {}) {
  const repo = resolve(import.meta.dirname, '..');
  if (needsCli && !existsSync(join(repo, 'out', 'cli', 'index.mjs')) && spawnSync(process.execPath, [join(repo, 'scripts', 'build-cli.mjs')], { stdio: 'inherit', cwd: repo }).status !== 0) process.exit(1);
  mkdirSync(join(repo, 'out'), { recursive: true });
  const dir = mkdtempSync(join(repo, 'out', `bench-${name}-`));
  let code = 1;
  try {
    await build({
      configFile: false,
      logLevel: 'warn',
      build: {
        ssr: join(repo, `bench/${name}-run.ts`),
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
}
