// `npm run bench`: builds, then runs every benchmark in bench/ one after another (each prints its
// figures and a final JSON line with its ratios). `npm run bench -- dashboard sampler` runs only those.
// Benchmarks are never pass/fail tests: this exits non-zero only when a benchmark could not run.
import { spawnSync } from 'node:child_process';

const ALL = ['sampler', 'inventory', 'dashboard', 'latency', 'idle', 'pacing', 'adaptive', 'transport'];
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !ALL.includes(name));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (have: ${ALL.join(', ')})`);
  process.exit(2);
}
const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status;

if (run(['scripts/build.mjs']) !== 0) process.exit(1);
const failed = [];
for (const name of wanted.length > 0 ? wanted : ALL) {
  console.log(`\n== bench/${name} ==`);
  if (run([`bench/${name}.mjs`]) !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`bench: could not run ${failed.join(', ')}`);
  process.exit(1);
}
