// Type-checks each layer against its own tsconfig (its own libs and types: renderer has no node types,
// shared has neither DOM nor node). Runs them in parallel, prints each layer's verdict.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const layers = ['shared', 'node', 'main', 'preload', 'renderer', 'tests'];

const results = await Promise.all(
  layers.map(
    (layer) =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [tsc, '-p', `tsconfig.${layer}.json`, '--pretty'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('close', (code) => resolve({ layer, code, output }));
      }),
  ),
);
let failed = 0;
for (const { layer, code, output } of results) {
  console.log(`typecheck ${layer}: ${code === 0 ? 'ok' : 'FAILED'}`);
  if (code !== 0) {
    failed += 1;
    process.stdout.write(output);
  }
}
process.exit(failed === 0 ? 0 : 1);
