// bench/pacing: paced vs unpaced rtp through a narrow link with a short queue (bench/pacing-run.ts).
// Bundles the TypeScript with vite (as the CLI build does) and runs it. Needs nothing but Node.
// Usage: node bench/pacing.mjs (BENCH_SECONDS, BENCH_KBPS, BENCH_CAP_KBPS, BENCH_QUEUE_MS to change the run)
import { runBundled } from './run-bundled.mjs';

await runBundled('pacing');
