// bench/latency: the sound's case. Two sound servers on this machine (the host's and the peer's, null
// sinks); a session of our own code (StreamSession with sound, the stamped test picture at 720p60) to a
// separate peer process (the built CLI) that plays into the peer's output. A click is played on the host
// every half second; both outputs' monitors are read with the same sample clock (AudioCapture), and each
// click's time there gives capture-to-heard latency. The click is played at the moment the picture's
// stamp reads that time: its A/V offset is the click's latency minus the picture's (capture → decoded, from
// the stamps) in that second. The floor: the host's monitor piped straight into the peer's output
// (parec | pacat, no codec, no network), measured the same way.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioCapture, type CapturedFrame } from '../src/core/audio/audio-capture';
import { OPUS_RATE } from '../src/core/audio/opus-lib';
import { preciseNow } from '../src/core/pairing/channel';
import { LocalViewer } from '../src/core/sessions/local-viewer';
import { summarize, type LatencySummary } from '../src/core/sessions/quantiles';
import { StreamSession, type StreamSecond } from '../src/core/sessions/stream-session';
import type { TransportName } from '../src/shared/transports';
import { SoundRig } from '../tests/helpers/sound-rig';
import { stageSplit, type StageSplit } from './latency-audio-stages';

export interface AudioBenchResult {
  latency: LatencySummary;
  /** The click's latency minus the picture's in its second (positive: sound late). */
  offset: LatencySummary;
  offsetAbsP95Ms: number | null;
  floor: LatencySummary;
  clicks: number;
  heard: number;
  videoP50Ms: number | null;
  concealedMs: number;
  /** Times the peer's output ran dry (gaps concealment did not fill) over the session. */
  underruns: number;
  /** Capture-to-heard by stage (null where the run failed). */
  split: StageSplit | null;
  error: string | null;
}

const CLICK_INTERVAL_MS = 500;
/** 4 ms of a 2 kHz tone at -6 dBFS: a sharp onset the codec keeps. */
function click(): Buffer {
  const samples = Math.round(OPUS_RATE * 0.004);
  const out = Buffer.alloc(samples * 4);
  for (let i = 0; i < samples; i += 1) {
    const v = Math.round(16000 * Math.sin((2 * Math.PI * 2000 * i) / OPUS_RATE));
    out.writeInt16LE(v, i * 4);
    out.writeInt16LE(v, i * 4 + 2);
  }
  return out;
}

/** Onsets (host-clock ms) of clicks in a monitor: the first loud sample after 100 ms of quiet. */
function listen(rig: SoundRig): { onsets: number[]; capture: AudioCapture } {
  const capture = new AudioCapture({ device: rig.monitor, env: rig.env });
  const onsets: number[] = [];
  let quietSince = -Infinity;
  capture.on('frame', (frame: CapturedFrame) => {
    for (let i = 0; i < frame.pcm.length / 4; i += 1) {
      const t = frame.capturedAt + (i / OPUS_RATE) * 1000;
      if (Math.abs(frame.pcm.readInt16LE(i * 4)) > 4000) {
        if (t - quietSince > 100) onsets.push(t);
        quietSince = t;
      } else if (quietSince === -Infinity) {
        quietSince = t - 1000;
      }
    }
  });
  capture.start();
  return { onsets, capture };
}

/** Pairs each host onset with the first peer onset after it (within 500 ms): latencies in ms. */
function pair(host: number[], peer: number[]): Array<{ at: number; ms: number }> {
  const out: Array<{ at: number; ms: number }> = [];
  for (const at of host) {
    const heard = peer.find((t) => t > at && t - at < 400);
    if (heard !== undefined) out.push({ at, ms: heard - at });
  }
  return out;
}

/** Clicks into the host's output every half second for `seconds`. */
async function clicks(rig: SoundRig, seconds: number): Promise<number> {
  const player = spawn('pacat', ['--playback', '--raw', '--format=s16le', '--rate=48000', '--channels=2', '--latency-msec=10'], { env: rig.env, stdio: ['pipe', 'ignore', 'ignore'] });
  player.stdin.on('error', () => undefined);
  const sound = click();
  const silence = Buffer.alloc((OPUS_RATE / 1000) * CLICK_INTERVAL_MS * 4 - sound.length);
  let count = 0;
  const end = preciseNow() + seconds * 1000;
  while (preciseNow() < end) {
    player.stdin.write(Buffer.concat([sound, silence]));
    count += 1;
    await new Promise((resolve) => setTimeout(resolve, CLICK_INTERVAL_MS));
  }
  player.stdin.end();
  await new Promise((resolve) => player.once('close', resolve));
  return count;
}

async function floorRun(host: SoundRig, peer: SoundRig, seconds: number): Promise<LatencySummary> {
  const reader = spawn('parec', ['--raw', '--format=s16le', '--rate=48000', '--channels=2', '--latency-msec=5', `--device=${host.monitor}`], { env: host.env, stdio: ['ignore', 'pipe', 'ignore'] });
  const writer = spawn('pacat', ['--playback', '--raw', '--format=s16le', '--rate=48000', '--channels=2', '--latency-msec=20'], { env: peer.env, stdio: ['pipe', 'ignore', 'ignore'] });
  writer.stdin.on('error', () => undefined);
  reader.stdout.pipe(writer.stdin);
  const atHost = listen(host);
  const atPeer = listen(peer);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await clicks(host, seconds);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await Promise.all([atHost.capture.stop(), atPeer.capture.stop()]);
  reader.kill();
  writer.kill();
  return summarize(pair(atHost.onsets, atPeer.onsets).map((p) => p.ms));
}

export async function measureAudio(spec: { cli: string; width: number; height: number; fps: number; bitrateKbps: number; seconds: number; transport?: TransportName }): Promise<AudioBenchResult> {
  const rigs = await Promise.allSettled([SoundRig.start('bench host'), SoundRig.start('bench peer')]);
  if (rigs.some((rig) => rig.status === 'rejected')) {
    await Promise.all(rigs.map((rig) => (rig.status === 'fulfilled' ? rig.value.stop() : undefined)));
    const why = rigs.flatMap((rig) => (rig.status === 'rejected' ? [(rig.reason as Error).message.split('\n')[0]] : [])).join('; ');
    const empty = summarize([]);
    return { latency: empty, offset: empty, offsetAbsP95Ms: null, floor: empty, clicks: 0, heard: 0, videoP50Ms: null, concealedMs: 0, underruns: 0, split: null, error: `the sound servers did not start: ${why}` };
  }
  const [host, peer] = rigs.map((rig) => (rig as PromiseFulfilledResult<SoundRig>).value) as [SoundRig, SoundRig];
  // both sides keep each frame's times by stage (src/core/audio/audio-stages.ts), for the split
  const stagesDir = mkdtempSync(join(tmpdir(), 'gb-audio-stages-'));
  host.env.GPU_BRIDGE_AUDIO_STAGES = stagesDir;
  peer.env.GPU_BRIDGE_AUDIO_STAGES = stagesDir;
  const viewer = new LocalViewer({ file: process.execPath, args: [spec.cli, 'peer', 'receive', '--headless'], env: peer.env }, 'bench peer');
  let session: StreamSession | null = null;
  try {
    const floor = await floorRun(host, peer, Math.min(spec.seconds, 5));
    await viewer.ready;
    session = new StreamSession({
      source: { kind: 'test', width: spec.width, height: spec.height }, fps: spec.fps, bitrateKbps: spec.bitrateKbps, encoder: 'libx264',
      transport: spec.transport ?? 'rtp', adaptive: false, audio: true, audioEnv: host.env,
    });
    const seconds: StreamSecond[] = [];
    session.on('second', (second: StreamSecond) => seconds.push(second));
    await session.addViewer(viewer.link);
    const deadline = Date.now() + 10_000;
    while (session.firstFrameMs === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (session.audio?.why) throw new Error(`no sound: ${session.audio.why}`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const atHost = listen(host);
    const atPeer = listen(peer);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const from = preciseNow();
    const played = await clicks(host, spec.seconds);
    const to = preciseNow();
    // the rows of the last second are appended once a second
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await Promise.all([atHost.capture.stop(), atPeer.capture.stop()]);
    const pairs = pair(atHost.onsets, atPeer.onsets);
    // the picture's capture → decoded latency in the second each click was played (the session's figures)
    const videoAt = (t: number) => seconds.find((s) => s.t >= t && s.p50Ms !== null)?.p50Ms ?? null;
    const offsets = pairs.flatMap((p) => {
      const video = videoAt(p.at);
      return video === null ? [] : [p.ms - video];
    });
    const totals = session.audio?.summary();
    return {
      latency: summarize(pairs.map((p) => p.ms)),
      offset: summarize(offsets),
      offsetAbsP95Ms: summarize(offsets.map(Math.abs)).p95Ms,
      floor,
      clicks: played,
      heard: pairs.length,
      videoP50Ms: session.totals().latency.p50Ms,
      concealedMs: totals?.concealedMs ?? 0,
      underruns: session.audio?.underruns ?? 0,
      split: stageSplit(stagesDir, { from, to }, pairs),
      error: null,
    };
  } catch (error) {
    const empty = summarize([]);
    return { latency: empty, offset: empty, offsetAbsP95Ms: null, floor: empty, clicks: 0, heard: 0, videoP50Ms: null, concealedMs: 0, underruns: 0, split: null, error: (error as Error).message };
  } finally {
    rmSync(stagesDir, { recursive: true, force: true });
    await session?.stop('bench done');
    await viewer.stop();
    await Promise.all([host.stop(), peer.stop()]);
  }
}
