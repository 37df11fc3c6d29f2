// bench/latency: capture-to-decode latency at 720p60 from an Xvfb display: the plain-UDP floor, ours over
// rtp and over srt, and a naive ffmpeg pipeline, on loopback and through an emulated link (see
// bench/latency-run.ts). Bundles bench/latency-run.ts with vite (as the CLI build does), builds the CLI
// when it is missing (the bench's peer process is `gpu-bridge peer receive`), and runs it; Ctrl-C stops
// every process it started. Needs Xvfb and ffmpeg (with libx264, libsrt, x11grab, sdl2).
// Usage: node bench/latency.mjs (BENCH_SECONDS=N: seconds measured per run, default 7)
import { runBundled } from './run-bundled.mjs';

await runBundled('latency', { needsCli: true });
