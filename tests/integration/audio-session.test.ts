// The sound inside a real session: the self-test's pipeline (stamped test picture, libx264, encrypted RTP)
// with --audio, the host's capture from one sound server and the local peer process (the built CLI)
// playing into another; a known signal played on the host is found in the peer's output. And the CLI on a
// machine with no sound server: one line saying so, the picture streamed all the same.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opusUnavailable } from '../../src/core/audio/opus-lib';
import { runSelftest } from '../../src/core/sessions/selftest';
import { SelftestResult } from '../../src/shared/contract/sessions';
import { SoundRig, soundRigUnavailable, sweepWav } from '../helpers/sound-rig';
import { CLI } from '../helpers/spawn-cli';
import { monoOf, windowsFound } from '../helpers/xcorr';

const unavailable = soundRigUnavailable() ?? opusUnavailable();
if (unavailable) console.warn(`SKIP audio-session (sound servers): ${unavailable}`);

describe.skipIf(unavailable !== null)('a session with sound (two real sound servers)', () => {
  let host: SoundRig;
  let peer: SoundRig;
  const signalFile = join(mkdtempSync(join(tmpdir(), 'gb-audio-session-')), 'sweep.wav');

  beforeAll(async () => {
    sweepWav(signalFile, 3);
    [host, peer] = await Promise.all([SoundRig.start('host'), SoundRig.start('peer')]);
  });

  afterAll(async () => {
    await Promise.all([host?.stop(), peer?.stop()]);
  });

  it('carries the host\'s sound through a lossy link to the peer process\'s output with the picture, and reports its figures', async () => {
    const recorder = peer.record();
    const playing = new Promise((resolve) => setTimeout(resolve, 2500)).then(() => host.play(signalFile));
    const result = await runSelftest({
      // through the self-test's relay, 5% lost each way: the sound crosses it on its own socket too
      width: 640, height: 360, fps: 30, seconds: 7, encoder: 'libx264', audio: true, audioEnv: host.env, lossPercent: 5,
      peerCommand: { file: process.execPath, args: [CLI, 'peer', 'receive', '--headless'], env: peer.env },
    });
    await playing;
    const recording = await recorder.stop();
    console.log(`audio-session: ${JSON.stringify({ audio: result.audio, audioUnavailable: result.audioUnavailable, p50Ms: result.p50Ms })}`);
    expect(SelftestResult.parse(result)).toBeTruthy();
    expect(result.ok).toBe(true);
    expect(result.audioUnavailable).toBeNull();
    expect(result.audio).not.toBeNull();
    expect(result.audio!.latencyP50Ms).not.toBeNull();
    expect(result.audio!.packetsLost).toBeGreaterThan(0);
    // the picture is stamped: the peer knows its delay and reports the sound's against it
    expect(result.audio!.avOffsetP50Ms).not.toBeNull();
    const windows = windowsFound(monoOf(recording), monoOf(await import('node:fs').then((fs) => fs.readFileSync(signalFile).subarray(44))), 12_000);
    console.log(`audio-session: ${windows.found}/${windows.total} windows of the signal found in the peer's output`);
    // found: a quarter of its windows at least (see audio-loop.test.ts on a loaded machine)
    expect(windows.found).toBeGreaterThanOrEqual(3);
  });
});

describe('a host with no sound server', () => {
  it('`session selftest --audio --json` says so in one line and streams the picture without sound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gb-nosound-'));
    const env = { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: dir, PULSE_SERVER: `unix:${join(dir, 'none')}` };
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [CLI, 'session', 'selftest', '--audio', '--json', '--seconds', '3', '--size', '640x360', '--fps', '30', '--encoder', 'libx264'], { env, timeout: 90_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    const result = SelftestResult.parse(JSON.parse(stdout));
    expect(result.ok).toBe(true);
    expect(result.framesDecoded).toBeGreaterThan(0);
    expect(result.audio).toBeNull();
    expect(result.audioUnavailable).toMatch(/^no sound server[^\n]*$/);
  });
});
