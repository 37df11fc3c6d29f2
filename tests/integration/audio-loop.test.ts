// The session's sound end to end with real parts: a host sound server and a peer sound server
// (PipeWire + pipewire-pulse, null sinks), a known signal played into the host's output, captured from its
// monitor, Opus-encoded, encrypted and sent as RTP (through a relay that drops 5% at random in the second
// case), decoded and played into the peer's output, recorded there and found again by cross-correlation.
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioKeys } from '../../src/core/audio/audio-keys';
import { AudioRtpReceiver, type AudioSecond } from '../../src/core/audio/audio-receiver';
import { AudioRtpSender } from '../../src/core/audio/audio-sender';
import { openSink } from '../../src/core/audio/audio-sink';
import { HostAudio, type EncodedAudio } from '../../src/core/audio/host-audio';
import { opusUnavailable } from '../../src/core/audio/opus-lib';
import { UdpRelay } from '../../src/core/net/udp-relay';
import { newRtpKeys } from '../../src/core/rtp/rtp-keys';
import { SoundRig, soundRigUnavailable, sweepWav } from '../helpers/sound-rig';
import { locate, monoOf, silentGaps, windowsFound } from '../helpers/xcorr';

const unavailable = soundRigUnavailable() ?? opusUnavailable();
if (unavailable) console.warn(`SKIP audio-loop: ${unavailable}`);

const SIGNAL_SECONDS = 3;
/**
 * The signal counts as found in a recording when this many of its twelve 250 ms windows are (a correlation
 * above 0.6 each). Not more: on a machine loaded several times over its cores, the playout's frames dropped
 * and repeated to follow the delay cost windows; the gaps are judged on their own, below.
 */
const FOUND_AT_LEAST = 3;

describe.skipIf(unavailable !== null)('audio: host output -> Opus over encrypted RTP -> peer output (real sound servers)', () => {
  let host: SoundRig;
  let peer: SoundRig;
  const dir = mkdtempSync(join(tmpdir(), 'gb-audio-'));
  const signalFile = join(dir, 'sweep.wav');

  beforeAll(async () => {
    sweepWav(signalFile, SIGNAL_SECONDS);
    [host, peer] = await Promise.all([SoundRig.start('host'), SoundRig.start('peer')]);
  });

  afterAll(async () => {
    await Promise.all([host?.stop(), peer?.stop()]);
  });

  async function carry(loss: number): Promise<{ recording: Buffer; source: Buffer; seconds: AudioSecond[]; receiver: AudioRtpReceiver }> {
    const keys = audioKeys(newRtpKeys());
    const sink = await openSink({ env: peer.env });
    expect(sink.kind).toBe('pulse');
    const receiver = new AudioRtpReceiver({ listen: '127.0.0.1', port: 0, keys, sink });
    const port = await receiver.start();
    const relay = loss > 0 ? new UdpRelay({ host: '127.0.0.1', port }, { oneWayDelayMs: 5, loss, seed: 7 }) : null;
    const target = relay ? { host: '127.0.0.1', port: await relay.start() } : { host: '127.0.0.1', port };
    const sender = new AudioRtpSender(target, keys);
    await sender.start();
    const opened = await HostAudio.open({ env: host.env });
    if ('unavailable' in opened) throw new Error(opened.unavailable);
    const audio = opened.audio;
    audio.on('packet', (packet: EncodedAudio) => sender.packet(packet.payload, packet.capturedAt));
    const seconds: AudioSecond[] = [];
    receiver.on('second', (second: AudioSecond) => seconds.push(second));
    const recorder = peer.record();
    // what the host really played (a player starved of CPU leaves gaps of its own in the source)
    const sourceRecorder = host.record();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await host.play(signalFile);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const [recording, source] = await Promise.all([recorder.stop(), sourceRecorder.stop()]);
    await audio.close();
    sender.close();
    await receiver.close();
    relay?.close();
    return { recording, source, seconds, receiver };
  }

  /**
   * What the peer's recording shows of the signal: 250 ms windows found, silent gaps longer than one 10 ms
   * frame there and in what the host itself played (its monitor).
   */
  function judge(recording: Buffer, source: Buffer): { found: number; total: number; gaps: number[]; sourceGaps: number[] } {
    const original = monoOf(readFileSync(signalFile).subarray(44));
    const gapsIn = (raw: Buffer) => {
      const heard = monoOf(raw);
      const windows = windowsFound(heard, original, 12_000);
      return { windows, gaps: silentGaps(heard, windows.firstLag ?? locate(heard, original).lag, original.length, 480) };
    };
    const atPeer = gapsIn(recording);
    return { found: atPeer.windows.found, total: atPeer.windows.total, gaps: atPeer.gaps, sourceGaps: gapsIn(source).gaps };
  }

  it('finds the signal in the peer\'s output, every silent gap longer than a frame accounted for', async () => {
    const { recording, source, seconds, receiver } = await carry(0);
    const seen = judge(recording, source);
    const c = receiver.counters;
    console.log(`audio-loop clean (load ${loadavg()[0]!.toFixed(1)}): ${seen.found}/${seen.total} windows found; gaps ${JSON.stringify(seen.gaps)} (at the host: ${JSON.stringify(seen.sourceGaps)}); counters ${JSON.stringify(c)}`);
    expect(seen.found).toBeGreaterThanOrEqual(FOUND_AT_LEAST);
    // a gap the peer's recording shows was in the source already, or the receiver counted it (its process not
    // scheduled in time, the stream paused)
    expect(seen.gaps.length).toBeLessThanOrEqual(seen.sourceGaps.length + c.underruns + c.pauses);
    expect(seconds.reduce((sum, s) => sum + s.received, 0)).toBeGreaterThan(100);
  });

  it('at 5% loss: the signal is still found, every lost frame recovered or concealed, every gap accounted for', async () => {
    const { recording, source, receiver } = await carry(0.05);
    const seen = judge(recording, source);
    const c = receiver.counters;
    console.log(`audio-loop 5% loss (load ${loadavg()[0]!.toFixed(1)}): ${seen.found}/${seen.total} windows found; gaps ${JSON.stringify(seen.gaps)} (at the host: ${JSON.stringify(seen.sourceGaps)}); counters ${JSON.stringify(c)}`);
    expect(c.lost).toBeGreaterThan(0);
    expect(c.recoveredFec + c.recoveredNack).toBeGreaterThan(0);
    // every frame missing at its turn was rebuilt (FEC, a resend) or concealed: none left silent
    expect(c.recoveredFec + c.recoveredNack + c.concealedMs / 10).toBeGreaterThanOrEqual(c.lost);
    expect(seen.found).toBeGreaterThanOrEqual(FOUND_AT_LEAST);
    expect(seen.gaps.length).toBeLessThanOrEqual(seen.sourceGaps.length + c.underruns + c.pauses);
  });
});
