// bench/latency: one measured run of our own session code (StreamSession, as the app runs it) from the
// X display to a separate local peer process (`gpu-bridge peer receive`, the built CLI), over rtp or srt,
// on loopback or through a relay process; latency from the same per-frame stamps as the argv runs.
import type { LinkProfile } from '../src/core/net/udp-relay';
import { LocalViewer } from '../src/core/sessions/local-viewer';
import { startCpuMeter } from '../src/core/sessions/proc-stat';
import { RelayedLink } from '../src/core/sessions/relayed-link';
import { srtLatencyFromRtt } from '../src/core/srt/srt-url';
import { StreamSession, type RepairTotals } from '../src/core/sessions/stream-session';
import type { LatencySummary } from '../src/core/sessions/quantiles';
import { childRelay } from './latency-relay';

export interface SessionRunSpec {
  transport: 'rtp' | 'srt';
  display: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  link: LinkProfile | null;
  seconds: number;
  cli: string;
  env: NodeJS.ProcessEnv;
  outage?: { atS: number; ms: number };
  adaptive?: boolean;
}

export interface SessionRunResult {
  latency: LatencySummary;
  fpsReceived: number;
  framesSent: number;
  intact: number;
  unreadable: number;
  startMs: number | null;
  rtp: RepairTotals;
  steps: string[];
  /** This (bench) process: the session, its rtp sender, stamps; and the peer process (its receiver). */
  hostCpuPercent: number;
  peerCpuPercent: number | null;
  error: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sessions of the run in progress, for the SIGINT handler. */
export const sessions = new Set<{ stop: () => Promise<void> }>();

export async function measureSession(spec: SessionRunSpec): Promise<SessionRunResult> {
  const viewer = new LocalViewer({ file: process.execPath, args: [spec.cli, 'peer', 'receive', '--headless'], env: spec.env }, 'bench peer');
  const handle = { stop: () => viewer.stop() };
  sessions.add(handle);
  await viewer.ready;
  const link = spec.link ? new RelayedLink(viewer.link, spec.link, childRelay) : null;
  const session = new StreamSession({
    source: { kind: 'x11', display: spec.display, x: 0, y: 0, width: spec.width, height: spec.height },
    fps: spec.fps,
    bitrateKbps: spec.bitrateKbps,
    encoder: 'libx264',
    transport: spec.transport,
    adaptive: spec.adaptive ?? false,
    // srt: the latency our code picks from the RTT (4 × RTT + 1; 0 on loopback)
    srtLatencyMs: srtLatencyFromRtt(spec.link ? 2 * spec.link.oneWayDelayMs : 0.05),
  });
  const steps: string[] = [];
  session.on('bitrate', (step: { from: number; to: number; reason: string }) => steps.push(`${step.from}→${step.to}: ${step.reason}`));
  let error: string | null = null;
  let cpu: { selfPercent: number | null; otherPercent: number | null } = { selfPercent: null, otherPercent: null };
  try {
    await session.addViewer(link ?? viewer.link);
    const deadline = Date.now() + 10_000;
    while (session.firstFrameMs === null && Date.now() < deadline && session.state !== 'failed') await sleep(20);
    if (session.firstFrameMs === null) throw new Error(`no frame decoded: ${session.reason ?? session.state}`);
    await sleep(1000);
    const meter = await startCpuMeter(viewer.pid);
    const outage = spec.outage ? setTimeout(() => link?.outage(spec.outage!.ms), spec.outage.atS * 1000) : null;
    await sleep(spec.seconds * 1000);
    if (outage) clearTimeout(outage);
    cpu = await meter.read();
    if (session.state === 'failed') error = session.reason;
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  await session.stop('bench done');
  await sleep(200);
  const totals = session.totals();
  link?.shutdown();
  await viewer.stop();
  sessions.delete(handle);
  return {
    latency: totals.latency,
    fpsReceived: totals.fpsReceived,
    framesSent: session.framesSent,
    intact: totals.framesDecoded - totals.unreadable,
    unreadable: totals.unreadable,
    startMs: session.firstFrameMs,
    rtp: totals.repairs,
    steps,
    hostCpuPercent: cpu.selfPercent ?? 0,
    peerCpuPercent: cpu.otherPercent,
    error,
  };
}
