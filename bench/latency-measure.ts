// bench/latency: one measured run of a sender argv to a receiver argv on loopback. The receiver's stdout
// carries the stamp strip of each decoded frame; latency = arrival of the strip here − capture time in
// the stamp (same machine, same clock). A frame repeated by the receiver (same stamp twice in a row)
// counts once, at its first arrival. Figures leave out the first second after the first frame.
import { spawnTied, type SupervisedSpawn } from '../src/core/sessions/child-process';
import { summarize, type LatencySummary } from '../src/core/sessions/quantiles';
import { stampAgeMs } from '../src/core/sessions/stamp';
import { readStamps } from '../src/core/sessions/stamp-reader';
import { waitUdpBound } from '../src/core/sessions/udp-bound';
import { preciseNow } from '../src/core/pairing/channel';
import type { FrameFeed } from '../src/core/capture/frame-feed';

export interface RunSpec {
  senderArgs: string[];
  receiverArgs: string[];
  /** The receiver's port (the sender may go to a relay in front of it). */
  port: number;
  env: NodeJS.ProcessEnv;
  /** Seconds measured after the warm-up second. */
  seconds: number;
  /** Give up waiting for the first frame after this many seconds. */
  firstFrameTimeoutS: number;
  /** A Wayland capture's frames, written to the sender's stdin (its source is `frames`). */
  feed?: FrameFeed;
}

export interface RunResult {
  latency: LatencySummary;
  fpsReceived: number;
  framesSent: number | null;
  repeated: number;
  unreadable: number;
  /** Frames that arrived with a readable stamp (each once), over the whole run. */
  intact: number;
  /** Receiver spawned (listener, then the sender) → first decoded frame, ms. */
  startMs: number | null;
  error: string | null;
}

const WARMUP_MS = 1000;

function tail(process: SupervisedSpawn): () => string {
  let text = '';
  process.child.stderr?.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-600)));
  return () => text.trim().split('\n').at(-1) ?? '';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Processes of the run in progress, for the SIGINT handler. */
export const running = new Set<SupervisedSpawn>();

export async function measureRun(spec: RunSpec): Promise<RunResult> {
  const started = preciseNow();
  const receiver = spawnTied('ffmpeg', spec.receiverArgs, ['ignore', 'pipe', 'pipe'], spec.env);
  running.add(receiver);
  const receiverTail = tail(receiver);
  let first: number | null = null;
  let lastStamp: number | null = null;
  let repeated = 0;
  let unreadable = 0;
  const arrivals: { at: number; ageMs: number }[] = [];
  readStamps(receiver.child.stdout!, ({ stampMs, decodedAt }) => {
    if (stampMs === null) {
      unreadable += 1;
      return;
    }
    if (stampMs === lastStamp) {
      repeated += 1;
      return;
    }
    lastStamp = stampMs;
    first ??= decodedAt;
    arrivals.push({ at: decodedAt, ageMs: stampAgeMs(stampMs, decodedAt) });
  });
  let sender: SupervisedSpawn | null = null;
  let framesSent: number | null = null;
  let error: string | null = null;
  try {
    const alive = () => receiver.child.exitCode === null && receiver.child.signalCode === null;
    if (!(await waitUdpBound(spec.port, 5000, alive))) throw new Error(`the receiver did not listen: ${receiverTail()}`);
    sender = spawnTied('ffmpeg', spec.senderArgs, [spec.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'], spec.env);
    running.add(sender);
    if (spec.feed && sender.child.stdin) {
      const detach = spec.feed.attach(sender.child.stdin);
      void sender.exited.then(detach);
    }
    const senderTail = tail(sender);
    // -progress blocks: frame=N ... progress=continue, once a second
    sender.child.stdout!.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/^frame=(\d+)$/gm)) framesSent = Number(match[1]);
    });
    const deadline = preciseNow() + spec.firstFrameTimeoutS * 1000;
    while (first === null && preciseNow() < deadline && alive() && sender.child.exitCode === null) await sleep(20);
    if (first === null) throw new Error(`no frame decoded: sender: ${senderTail() || '(silent)'}; receiver: ${receiverTail() || '(silent)'}`);
    await sleep(first + WARMUP_MS + spec.seconds * 1000 - preciseNow());
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  const end = preciseNow();
  await sender?.stop(1500);
  await receiver.stop(1500);
  if (sender) running.delete(sender);
  running.delete(receiver);
  const firstAt: number | null = first;
  const measured = firstAt === null ? [] : arrivals.filter((a) => a.at >= firstAt + WARMUP_MS && a.at <= end);
  if (process.env.BENCH_TRACE && firstAt !== null) {
    // the p50 of each second from the first frame on (a naive receiver catches up its start-up backlog)
    const seconds = new Map<number, number[]>();
    for (const a of arrivals) seconds.set(Math.floor((a.at - firstAt) / 1000), [...(seconds.get(Math.floor((a.at - firstAt) / 1000)) ?? []), a.ageMs]);
    console.log(`    per-second p50: ${[...seconds.values()].map((v) => summarize(v).p50Ms).join(' ')}`);
  }
  const windowS = firstAt === null ? 0 : (end - firstAt - WARMUP_MS) / 1000;
  return {
    latency: summarize(measured.map((a) => a.ageMs)),
    fpsReceived: windowS > 0 ? Math.round((measured.length / windowS) * 10) / 10 : 0,
    framesSent,
    repeated,
    unreadable,
    intact: arrivals.length,
    startMs: firstAt === null ? null : Math.round(firstAt - started),
    error,
  };
}
