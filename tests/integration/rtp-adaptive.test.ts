/**
 * The bitrate follows the link's capacity, not random loss (issue 18), end to end through the self-test:
 * the real encoder, sender, relay and peer process. Judged by the steps taken and their reasons, never
 * by when they came (bench/adaptive prints the timings).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runSelftest } from '../../src/core/sessions/selftest';
import { CLI } from '../helpers/spawn-cli';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg) console.warn('SKIP rtp adaptive tests: ffmpeg is not installed (CI installs it with .ci/run)');

const peerCommand = { file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'] };
const base = { width: 640, height: 360, fps: 30, encoder: 'libx264' as const, transport: 'rtp' as const, adaptive: true, peerCommand };

describe.skipIf(!hasFfmpeg)('adaptive bitrate on the rtp transport (real pipeline, user-space link)', () => {
  it('3% random loss each way with no bottleneck: FEC repairs it, and the bitrate does not step down for the link', async () => {
    const result = await runSelftest({ ...base, seconds: 14, bitrateKbps: 2000, oneWayDelayMs: 10, lossPercent: 3 });
    expect(result.ok, result.reason ?? '').toBe(true);
    expect(result.fecRecovered).toBeGreaterThan(0);
    expect(result.bitrateSteps.filter((step) => !/frames lost/.test(step.reason)), JSON.stringify(result.bitrateSteps)).toEqual([]);
  }, 60_000);

  it('2 Mbit/s asked through a 1.2 Mbit/s bottleneck: steps down for a full link, below its rate, and back up once it lifts', async () => {
    const result = await runSelftest({ ...base, seconds: 36, bitrateKbps: 2000, oneWayDelayMs: 5, rateKbps: 1200, queueMs: 50, bottleneckLiftAtS: 15 });
    const steps = result.bitrateSteps;
    expect(result.ok, result.reason ?? '').toBe(true);
    const down = steps.findIndex((step) => step.to < step.from && /the link is full: queueing delay/.test(step.reason));
    expect(down, JSON.stringify(steps)).toBeGreaterThanOrEqual(0);
    expect(Math.min(...steps.map((step) => step.to)), JSON.stringify(steps)).toBeLessThan(1200);
    // after the lift the packet trains show room: it climbs back to what was asked
    const back = steps.findIndex((step, i) => i > down && step.to === 2000 && /no queue on the link/.test(step.reason));
    expect(back, JSON.stringify(steps)).toBeGreaterThan(down);
  }, 90_000);
});
