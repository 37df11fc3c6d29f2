// `npm run build`: the Electron bundles (main, preload, renderer) and the Node programs (CLI, helper).
import { spawnSync } from 'node:child_process';



const steps = [
  ['electron-vite', ['node_modules/electron-vite/bin/electron-vite.js', 'build', '--logLevel', 'warn']],
  ['cli', ['scripts/build-cli.mjs']],
];
for (const [name, args] of steps) {
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${name} failed`);
    process.exit(result.status ?? 1);
  }
  console.log(`build: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
