// bench/adaptive: the bitrate through a bottleneck that comes and lifts (bench/adaptive-run.ts), the whole self-test pipeline.
// Bundles the TypeScript with vite (as the CLI build does) and runs it. Needs ffmpeg with libx264; builds the CLI when it is missing (the peer process is `gpu-bridge peer receive`).
// Usage: node bench/adaptive.mjs (BENCH_KBPS, BENCH_CAP_KBPS, BENCH_QUEUE_MS to change the run)
import { runBundled } from './run-bundled.mjs';

await runBundled('adaptive', { needsCli: true });
