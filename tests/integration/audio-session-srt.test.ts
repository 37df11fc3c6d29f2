// The sound inside an srt session: the self-test's pipeline (stamped test picture, libx264) over srt with
// --audio, the host's capture from one sound server, the Opus packets muxed into the stream's MPEG-TS and
// sent by our own SRT caller, demuxed by the local peer process (the built CLI) and played into another
// sound server; a known signal played on the host is found in the peer's output.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opusUnavailable } from '../../src/core/audio/opus-lib';
import { LocalViewer } from '../../src/core/sessions/local-viewer';
import { runSelftest } from '../../src/core/sessions/selftest';
import { StreamSession } from '../../src/core/sessions/stream-session';
import { loadSrt } from '../../src/core/srt/srt-native';
import { SelftestResult } from '../../src/shared/contract/sessions';
import { SoundRig, soundRigUnavailable, sweepWav } from '../helpers/sound-rig';
import { CLI } from '../helpers/spawn-cli';
import { until } from '../helpers/until';
import { monoOf, windowsFound } from '../helpers/xcorr';

const unavailable = soundRigUnavailable() ?? opusUnavailable() ?? (loadSrt() ? null : 'libsrt cannot be loaded (Debian: libsrt1.5-gnutls)');
if (unavailable) console.warn(`SKIP audio-session-srt (sound servers): ${unavailable}`);

describe.skipIf(unavailable !== null)('an srt session with sound (two real sound servers)', () => {
  let host: SoundRig;
  let peer: SoundRig;
  const signalFile = join(mkdtempSync(join(tmpdir(), 'gb-audio-srt-')), 'sweep.wav');

  beforeAll(async () => {
    sweepWav(signalFile, 3);
    [host, peer] = await Promise.all([SoundRig.start('host'), SoundRig.start('peer')]);
  });

  afterAll(async () => {
    await Promise.all([host?.stop(), peer?.stop()]);
  });

  it('carries the host\'s sound inside the srt stream to the peer process\'s output with the picture, and reports its figures', async () => {
    const recorder = peer.record();
    const playing = new Promise((resolve) => setTimeout(resolve, 2500)).then(() => host.play(signalFile));
    const result = await runSelftest({
      width: 640, height: 360, fps: 30, seconds: 7, encoder: 'libx264', transport: 'srt', audio: true, audioEnv: host.env,
      peerCommand: { file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'], env: peer.env },
    });
    await playing;
    const recording = await recorder.stop();
    console.log(`audio-session-srt: ${JSON.stringify({ audio: result.audio, audioUnavailable: result.audioUnavailable, p50Ms: result.p50Ms, p95Ms: result.p95Ms, framesDecoded: result.framesDecoded, restarts: result.restarts, ok: result.ok, reason: result.reason })}`);
    expect(SelftestResult.parse(result)).toBeTruthy();
    expect(result.ok).toBe(true);
    expect(result.audioUnavailable).toBeNull();
    expect(result.audio).not.toBeNull();
    expect(result.audio!.latencyP50Ms).not.toBeNull();
    // the picture is stamped: the peer knows its delay and reports the sound's against it
    expect(result.audio!.avOffsetP50Ms).not.toBeNull();
    const windows = windowsFound(monoOf(recording), monoOf(readFileSync(signalFile).subarray(44)), 12_000);
    console.log(`audio-session-srt: ${windows.found}/${windows.total} windows of the signal found in the peer's output`);
    // found: a quarter of its windows at least (as audio-session.test.ts, on a loaded machine)
    expect(windows.found).toBeGreaterThanOrEqual(3);
  });

  it('still gets the picture to a peer on ffmpeg\'s own SRT input (no libsrt to load there), which cannot take the sound out', async () => {
    const result = await runSelftest({
      width: 640, height: 360, fps: 30, seconds: 4, encoder: 'libx264', transport: 'srt', audio: true, audioEnv: host.env,
      peerCommand: { file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'], env: { ...peer.env, GPU_BRIDGE_SRT_INPUT: 'ffmpeg' } },
    });
    console.log(`audio-session-srt (ffmpeg's listener): ${JSON.stringify({ p50Ms: result.p50Ms, framesDecoded: result.framesDecoded, ok: result.ok, reason: result.reason })}`);
    expect(result).toMatchObject({ ok: true, reason: null, transport: 'srt' });
    expect(result.framesDecoded).toBeGreaterThan(0);
  });

  it('carries it to a viewer that listens on IPv6 (our SRT caller calls ::1)', async () => {
    const viewer = new LocalViewer({ file: process.execPath, args: [CLI, 'peer', 'receive', '--headless', '--listen', '::1'], env: { ...peer.env, GPU_BRIDGE_AUDIO_OUTPUT: 'none' } }, 'viewer on ::1', '::1');
    await viewer.ready;
    const session = new StreamSession({ source: { kind: 'test', width: 640, height: 360 }, fps: 30, bitrateKbps: 800, encoder: 'libx264', adaptive: false, srtLatencyMs: 0, transport: 'srt', audio: true, audioEnv: host.env });
    let heard = 0;
    let decoded = 0;
    viewer.link.on('link-stats', (stats: { audio?: { received: number } }) => (heard += stats.audio?.received ?? 0));
    viewer.link.on('frames', (frames: unknown[]) => (decoded += frames.length));
    try {
      await session.addViewer(viewer.link);
      // a second's worth of sound packets (100) and of pictures (30)
      const done = await until('the IPv6 viewer decoding and hearing', () => decoded > 30 && heard > 100, 30_000).catch((error: Error) => error);
      console.log(`audio-session-srt (IPv6 viewer): ${JSON.stringify({ heard, decoded, why: session.audio?.why ?? null, state: session.state })}`);
      expect(done).toBe(true);
      expect(session.audio?.why ?? null).toBeNull();
      // it counts the sound and plays it nowhere (GPU_BRIDGE_AUDIO_OUTPUT=none), and told the host so
      expect(session.audio?.notHeard).toEqual([{ viewer: 'viewer on ::1', why: expect.stringMatching(/^counted, not played: this peer plays no sound/) }]);
    } finally {
      await session.stop();
      await viewer.stop();
    }
  });

  it('is told by a peer that cannot take the sound out (ffmpeg\'s own SRT input there) why it is not heard, and the picture goes on', async () => {
    const viewer = new LocalViewer({ file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'], env: { ...peer.env, GPU_BRIDGE_SRT_INPUT: 'ffmpeg' } }, 'viewer without libsrt');
    await viewer.ready;
    const session = new StreamSession({ source: { kind: 'test', width: 640, height: 360 }, fps: 30, bitrateKbps: 800, encoder: 'libx264', adaptive: false, srtLatencyMs: 0, transport: 'srt', audio: true, audioEnv: host.env });
    let decoded = 0;
    viewer.link.on('frames', (frames: unknown[]) => (decoded += frames.length));
    try {
      await session.addViewer(viewer.link);
      const done = await until('the viewer decoding', () => decoded > 30, 30_000).catch((error: Error) => error);
      console.log(`audio-session-srt (viewer without libsrt): ${JSON.stringify({ decoded, why: session.audio?.why ?? null, notHeard: session.audio?.notHeard })}`);
      expect(done).toBe(true);
      expect(session.audio?.why ?? null).toBeNull();
      expect(session.audio?.notHeard).toEqual([{ viewer: 'viewer without libsrt', why: expect.stringMatching(/^libsrt cannot be loaded on the peer .*its sound is not played$/) }]);
    } finally {
      await session.stop();
      await viewer.stop();
    }
  });

  it('carries it to a second viewer that joins (the encoder restarts; our caller calls both), and on to both', async () => {
    // the peers share the peer rig's output; GPU_BRIDGE_AUDIO_OUTPUT=none: each counts its sound and drops it
    const command = { file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'], env: { ...peer.env, GPU_BRIDGE_AUDIO_OUTPUT: 'none' } };
    const a = new LocalViewer(command, 'viewer a');
    const b = new LocalViewer(command, 'viewer b');
    await Promise.all([a.ready, b.ready]);
    const session = new StreamSession({ source: { kind: 'test', width: 640, height: 360 }, fps: 30, bitrateKbps: 800, encoder: 'libx264', adaptive: false, srtLatencyMs: 0, transport: 'srt', audio: true, audioEnv: host.env });
    const heard = new Map<string, number>();
    const decoded = new Map<string, number>();
    for (const [name, viewer] of [['a', a], ['b', b]] as const) {
      viewer.link.on('link-stats', (stats: { audio?: { received: number } }) => heard.set(name, (heard.get(name) ?? 0) + (stats.audio?.received ?? 0)));
      viewer.link.on('frames', (frames: unknown[]) => decoded.set(name, (decoded.get(name) ?? 0) + frames.length));
    }
    try {
      await session.addViewer(a.link);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await session.addViewer(b.link);
      const joined = { heard: heard.get('a') ?? 0, decoded: decoded.get('a') ?? 0 };
      // after the join, both decode (30 frames) and both get sound (100 packets: a second's worth)
      const both = () => (decoded.get('a') ?? 0) - joined.decoded > 30 && (decoded.get('b') ?? 0) > 30 && (heard.get('a') ?? 0) - joined.heard > 100 && (heard.get('b') ?? 0) > 100;
      const done = await until('both viewers decoding and hearing', both, 30_000).catch((error: Error) => error);
      console.log(`audio-session-srt (two viewers): ${JSON.stringify({ joined, heard: Object.fromEntries(heard), decoded: Object.fromEntries(decoded), why: session.audio?.why ?? null, state: session.state })}`);
      expect(done).toBe(true);
      expect(session.audio?.why ?? null).toBeNull();
      expect(session.viewerNames).toEqual(['viewer a', 'viewer b']);
      expect(session.audio?.notHeard.map((note) => note.viewer)).toEqual(['viewer a', 'viewer b']);
    } finally {
      await session.stop();
      await a.stop();
      await b.stop();
    }
  });
});
