// bench/inventory: cold inventory time (first call in a fresh process) and repeated time, ours
// (sysfs + NVML/nvidia-smi, live root) vs systeminformation.graphics(). Run with `node bench/inventory.mjs`.
// Prints its figures, then one JSON line with the ratios.
import si from 'systeminformation';
import { buildInventory } from '../src/core/inventory/inventory';

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const ours = () => buildInventory({ root: '/', live: true });
const theirs = () => si.graphics();
const oursCold = await time(ours);
const siCold = await time(theirs);
const N = 10;
let oursWarm = 0;
let siWarm = 0;
for (let i = 0; i < N; i += 1) {
  oursWarm += await time(ours);
  siWarm += await time(theirs);
}
oursWarm /= N;
siWarm /= N;
const inv = await ours();
console.log(`host: ${inv.gpus.length} GPU(s), ${inv.displayControllers.length} display controller(s)`);
console.log(`ours  (buildInventory live)      cold ${oursCold.toFixed(1).padStart(8)} ms   repeated ${oursWarm.toFixed(1).padStart(8)} ms`);
console.log(`systeminformation.graphics()     cold ${siCold.toFixed(1).padStart(8)} ms   repeated ${siWarm.toFixed(1).padStart(8)} ms`);
console.log(
  JSON.stringify({
    bench: 'inventory',
    gpus: inv.gpus.length,
    oursColdMs: Number(oursCold.toFixed(2)),
    systeminformationColdMs: Number(siCold.toFixed(2)),
    oursRepeatedMs: Number(oursWarm.toFixed(2)),
    systeminformationRepeatedMs: Number(siWarm.toFixed(2)),
    ratioColdSysteminformationOverOurs: Number((siCold / oursCold).toFixed(2)),
    ratioRepeatedSysteminformationOverOurs: Number((siWarm / oursWarm).toFixed(2)),
  }),
);
