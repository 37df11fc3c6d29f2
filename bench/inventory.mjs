// Runs bench/inventory-run.ts (bundled with vite, like the CLI). Usage: node bench/inventory.mjs
import { runBench } from './sampler.mjs';

await runBench('bench/inventory-run.ts');
