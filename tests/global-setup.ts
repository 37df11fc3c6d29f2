import { execFileSync } from 'node:child_process';

/** Integration and e2e tests run the built programs: build once per run (npm test has just built). */
export default function setup(): void {
  if (process.env.GPU_BRIDGE_SKIP_BUILD === '1') return;
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
