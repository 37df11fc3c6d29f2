// bench/transport: what the rtp transport costs at 4K60, per end, against a bare Node UDP forward (see
// bench/transport-run.ts). Bundles bench/transport-run.ts with vite and runs it; the first run makes the
// pre-encoded streams with ffmpeg (libx264) under .cache/transport/.
// Usage: node bench/transport.mjs (BENCH_SECONDS=N per run, BENCH_RATES=8,100, BENCH_PROF=DIR for CPU profiles)
import { runBundled } from './run-bundled.mjs';

await runBundled('transport');
