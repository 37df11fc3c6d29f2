// `npm test`: every check, in order: typecheck, lint, build, then all vitest projects (unit, integration, e2e).
import { spawnSync } from 'node:child_process';

const steps = [
  ['typecheck', ['scripts/typecheck.mjs']],
  ['lint', ['node_modules/eslint/bin/eslint.js', '.']],
  ['build', ['scripts/build.mjs']],
  ['tests', ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)]],
];
for (const [name, args] of steps) {
  console.log(`\n== ${name} ==`);
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } });
  if (result.status !== 0) {
    console.error(`test: ${name} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  console.log(`== ${name}: ok in ${((Date.now() - started) / 1000).toFixed(1)} s ==`);
}
