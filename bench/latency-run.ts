// bench/latency: our streaming pipeline vs a naive ffmpeg pipeline, x11grab from an Xvfb display →
// libx264 → MPEG-TS over AES-256 SRT on loopback → decoder, per-frame capture stamps read back at the
// receiver, at 1280x720@30, 1280x720@60 and 1920x1080@30. Run with `node bench/latency.mjs`. Prints its
// figures, then one JSON line with the ratios (naive / ours).
import { cpus, loadavg } from 'node:os';
import { buildReceiverArgs, buildSenderArgs } from '../src/core/sessions/pipeline';
import { freeUdpPort } from '../src/core/sessions/receiver';
import { defaultBitrateKbps } from '../src/core/sessions/selftest';
import { newPassphrase, srtLatencyFromRtt } from '../src/core/sessions/srt-url';
import type { SupervisedSpawn } from '../src/core/sessions/child-process';
import { startAnimator, startXvfb, type Display } from './latency-display';
import { measureRun, running, type RunResult } from './latency-measure';
import { naiveReceiverArgs, naiveSenderArgs } from './latency-naive';

const CONFIGS = [
  { width: 1280, height: 720, fps: 30 },
  { width: 1280, height: 720, fps: 60 },
  { width: 1920, height: 1080, fps: 30 },
] as const;
/** Goal for our p50 (issue 6): 20 ms at 720p60, 35 ms at 1080p30. */
const GOAL_P50_MS: Record<string, number> = { '1280x720@60': 20, '1920x1080@30': 35 };
const SECONDS = Math.max(2, Math.min(60, Number(process.env.BENCH_SECONDS ?? 7) || 7));

let display: Display | null = null;
let animator: SupervisedSpawn | null = null;
let stopping = false;

async function cleanup(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(1000)));
  await animator?.stop(1000);
  // SIGTERM lets Xvfb remove its lock file and socket
  await display?.process.stop(2000);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`bench/latency: ${signal}, stopping every process it started`);
    void cleanup().finally(() => process.exit(130));
  });
}

function loadAverage(): string {
  return loadavg().map((v) => v.toFixed(1)).join(' ');
}

function ms(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(1)} ms`;
}

function line(label: string, run: RunResult): void {
  const sent = run.framesSent === null ? '' : `  sent ${run.framesSent}`;
  const extra = `${run.repeated ? `  repeated ${run.repeated}` : ''}${run.unreadable ? `  unreadable ${run.unreadable}` : ''}`;
  console.log(
    `  ${label.padEnd(6)} p50 ${ms(run.latency.p50Ms).padStart(10)}  p95 ${ms(run.latency.p95Ms).padStart(10)}  fps ${String(run.fpsReceived).padStart(5)}  start ${run.startMs === null ? '—' : `${run.startMs} ms`}${sent}${extra}${run.error ? `  ERROR ${run.error}` : ''}`,
  );
}

const ratio = (naive: number | null, ours: number | null) => (naive === null || ours === null || ours <= 0 ? null : Math.round((naive / ours) * 10) / 10);

const results: Record<string, unknown> = {};
let allOk = true;
try {
  display = await startXvfb();
  const env = { ...process.env, DISPLAY: display.name };
  console.log(`bench/latency on ${display.name} (Xvfb 1920x1080x24), ${SECONDS} s measured per run after 1 s of warm-up; content: testsrc2 in an SDL window`);
  console.log(`${cpus().length} CPUs, load average ${loadAverage()} at the start (other work on the machine shifts these figures)`);
  for (const { width, height, fps } of CONFIGS) {
    if (stopping) break;
    const key = `${width}x${height}@${fps}`;
    animator = await startAnimator(display.name, width, height, fps);
    const passphrase = newPassphrase();
    // ours: the session's argv as the session manager builds it (libx264, loopback → SRT latency 0)
    let port = await freeUdpPort('127.0.0.1');
    const endpoint = { host: '127.0.0.1', port, passphrase, latencyMs: srtLatencyFromRtt(0.05) };
    const ours = await measureRun({
      senderArgs: buildSenderArgs({
        source: { kind: 'x11', display: display.name, x: 0, y: 0, width, height },
        outputs: [endpoint],
        encoder: 'libx264',
        fps,
        bitrateKbps: defaultBitrateKbps(width, height, fps),
      }),
      receiverArgs: buildReceiverArgs({ listen: endpoint, display: false, listenTimeoutMs: 10_000 }),
      port,
      env,
      seconds: SECONDS,
      firstFrameTimeoutS: 10,
    });
    if (stopping) break;
    port = await freeUdpPort('127.0.0.1');
    const naiveSpec = { display: display.name, width, height, fps, port, passphrase };
    const naive = await measureRun({ senderArgs: naiveSenderArgs(naiveSpec), receiverArgs: naiveReceiverArgs(naiveSpec), port, env, seconds: SECONDS, firstFrameTimeoutS: 25 });
    if (stopping) break;
    await animator.stop(1000);
    animator = null;
    console.log(key);
    line('ours', ours);
    line('naive', naive);
    const p50Ratio = ratio(naive.latency.p50Ms, ours.latency.p50Ms);
    const p95Ratio = ratio(naive.latency.p95Ms, ours.latency.p95Ms);
    const goal = GOAL_P50_MS[key];
    const goalMet = goal === undefined ? null : ours.latency.p50Ms !== null && ours.latency.p50Ms <= goal;
    console.log(`  naive/ours: p50 ×${p50Ratio ?? '—'}  p95 ×${p95Ratio ?? '—'}${goal === undefined ? '' : `  goal p50 ≤ ${goal} ms: ${goalMet ? 'met' : 'NOT met'}`}`);
    if (ours.error || naive.error) allOk = false;
    results[key] = {
      oursP50Ms: ours.latency.p50Ms,
      oursP95Ms: ours.latency.p95Ms,
      oursFps: ours.fpsReceived,
      oursStartMs: ours.startMs,
      naiveP50Ms: naive.latency.p50Ms,
      naiveP95Ms: naive.latency.p95Ms,
      naiveFps: naive.fpsReceived,
      naiveStartMs: naive.startMs,
      ratioP50: p50Ratio,
      ratioP95: p95Ratio,
      ...(goal === undefined ? {} : { goalP50Ms: goal, goalMet }),
    };
  }
} finally {
  if (!stopping) await cleanup();
}
if (!stopping) {
  console.log(`load average ${loadAverage()} at the end`);
  console.log(JSON.stringify({ bench: 'latency', secondsPerRun: SECONDS, cpus: cpus().length, loadAverage1m: Number(loadavg()[0]!.toFixed(1)), ok: allOk, ...results }));
  process.exit(allOk ? 0 : 1);
}
