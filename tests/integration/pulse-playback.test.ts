// PulsePlayback against a real sound server (PipeWire with pipewire-pulse, a null sink whose monitor is
// recorded): a tone written in half frames in real time, a click at two moments, and between them the writer
// stalled as a starved process is, the half frames due meanwhile skipped as the peer's feeder skips them.
// What must hold: the stall is a gap no longer than itself and the target, counted as an underrun; sound
// written after it is heard (a stream whose read index ran past its write index would stay silent for good);
// and the click after it is heard about as soon after it was written as the one before (a prebuffering stream
// refills to its whole buffer and keeps it: everything after is heard later). And on a server whose cycle is
// longer than the target, the stream is heard at all.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_BYTES, opusUnavailable } from '../../src/core/audio/opus-lib';
import { PulsePlayback } from '../../src/core/audio/pulse-playback';
import { SoundRig, soundRigUnavailable } from '../helpers/sound-rig';
import { monoOf, silentGaps } from '../helpers/xcorr';

const unavailable = soundRigUnavailable() ?? opusUnavailable();
if (unavailable) console.warn(`SKIP pulse-playback: ${unavailable}`);

const noPwMetadata = spawnSync('sh', ['-c', 'command -v pw-metadata']).status !== 0;
if (!unavailable && noPwMetadata) console.warn('SKIP pulse-playback at a forced quantum: no pw-metadata (Debian: pipewire-bin; .ci/run installs it)');

const HALF_SAMPLES = FRAME_BYTES / 8;
const RATE = 48_000;
const TARGET_MS = 12;
const STALL_MS = 60;
const CLICK_SLOTS = [100, 500];
const STALL_AT_SLOT = 300;
const SLOTS = 700;

/** Half frame `slot` of a quiet 440 Hz tone, opening with a loud 1 ms click in the click slots. */
function halfFrame(slot: number): Buffer {
  const out = Buffer.alloc(FRAME_BYTES / 2);
  for (let i = 0; i < HALF_SAMPLES; i += 1) {
    const n = slot * HALF_SAMPLES + i;
    const click = CLICK_SLOTS.includes(slot) && i < 48;
    const v = click ? 20000 * Math.sign(Math.sin((2 * Math.PI * 2000 * n) / RATE) || 1) : Math.round(2000 * Math.sin((2 * Math.PI * 440 * n) / RATE));
    out.writeInt16LE(v, i * 4);
    out.writeInt16LE(v, i * 4 + 2);
  }
  return out;
}

/** Writes half frames of the tone in real time for `slots` × 5 ms (those whose time to be heard passed skipped); resolves when done. */
function writeTone(playback: PulsePlayback, slots: number, stallAt?: number): Promise<{ skipped: number; writtenAt: Map<number, number> }> {
  const writtenAt = new Map<number, number>();
  const start = performance.now();
  let slot = 0;
  let skipped = 0;
  return new Promise((resolve) => {
    const tick = (): void => {
      if (slot === stallAt) {
        busyWait(STALL_MS);
        slot += 1;
      }
      const now = performance.now();
      for (; slot < slots && start + slot * 5 <= now; slot += 1) {
        if (now - (start + slot * 5) > TARGET_MS) {
          skipped += 1;
          continue;
        }
        if (CLICK_SLOTS.includes(slot)) writtenAt.set(slot, performance.timeOrigin + performance.now());
        playback.write(halfFrame(slot));
      }
      if (slot >= slots) resolve({ skipped, writtenAt });
      else setTimeout(tick, 1);
    };
    tick();
  });
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe.skipIf(unavailable !== null)('PulsePlayback: a stream locked to the sink\'s clock (real sound server)', () => {
  let rig: SoundRig;

  beforeAll(async () => {
    rig = await SoundRig.start('playback');
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('after a stall: a gap, the underrun counted; then heard again as soon after writing as before it', async () => {
    const playback = await PulsePlayback.open({ server: rig.env.PULSE_SERVER!, targetMs: TARGET_MS });
    const recorder = rig.record();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { skipped, writtenAt } = await writeTone(playback, SLOTS, STALL_AT_SLOT);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const recording = monoOf(await recorder.stop());
    await playback.close();

    // the clicks' onsets in the recording, on the recorder's clock (its samples), against when each was written
    const onsets: number[] = [];
    for (let i = 0, quietUntil = 0; i < recording.length; i += 1) {
      if (Math.abs(recording[i]!) > 0.4) {
        if (i >= quietUntil) onsets.push(i);
        quietUntil = i + RATE / 10;
      }
    }
    const heardAt = onsets.map((i) => recorder.startedAt + (i / RATE) * 1000);
    const latencies = CLICK_SLOTS.map((s, k) => (heardAt[k] ?? NaN) - writtenAt.get(s)!);
    const toneFrom = onsets[0]! - 100 * HALF_SAMPLES;
    const gaps = silentGaps(recording, toneFrom, (SLOTS - 10) * HALF_SAMPLES, 480);
    console.log(`pulse-playback (load ${loadavg()[0]!.toFixed(1)}): clicks heard ${onsets.length}, written → heard ${latencies.map((l) => l.toFixed(1)).join(' / ')} ms (on the recorder's clock, from its start: compare the two); gaps ${JSON.stringify(gaps.map((g) => Math.round(g / 48)))} ms; underruns ${playback.underruns}; skipped ${skipped}; target ${playback.targetMs} ms`);

    expect(onsets).toHaveLength(2);
    expect(playback.underruns).toBeGreaterThanOrEqual(1);
    expect(skipped).toBeGreaterThan(0);
    // the stall's gap (others, where the machine starves the server itself, are not the stream's to count)
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    // no gap longer than the stall and the lead that follows it (and a cycle or two of the server's)
    for (const gap of gaps) expect(gap / 48).toBeLessThan(STALL_MS + TARGET_MS + 30);
    // heard after the stall about as soon as before: the target a half frame higher per underrun, the server's cycle either way
    expect(latencies[1]! - latencies[0]!).toBeLessThan(5 * playback.underruns + 12);
    expect(latencies[1]! - latencies[0]!).toBeGreaterThan(-12);
  });

  it.skipIf(noPwMetadata)('on a server whose cycle is longer than its target (quantum forced to 1024 samples, 21 ms): raises it over the cycle and is heard', async () => {
    const force = (quantum: number) => spawnSync('pw-metadata', ['-n', 'settings', '0', 'clock.force-quantum', String(quantum)], { env: rig.env, stdio: 'ignore' }).status;
    expect(force(1024)).toBe(0);
    try {
      // the new quantum is in force at the graph's next cycles
      await new Promise((resolve) => setTimeout(resolve, 300));
      const playback = await PulsePlayback.open({ server: rig.env.PULSE_SERVER!, targetMs: TARGET_MS });
      const recorder = rig.record();
      await writeTone(playback, 1000);
      const recording = monoOf(await recorder.stop());
      await playback.close();
      // the last two seconds written (the recorder started with the writer; its own lag and the target at the end, about 0.1 s, left aside)
      const end = recording.length - Math.round(0.25 * RATE);
      const gaps = silentGaps(recording, end - 2 * RATE, 2 * RATE, 480);
      console.log(`pulse-playback at quantum 1024 (load ${loadavg()[0]!.toFixed(1)}): target ${playback.targetMs.toFixed(1)} ms, underruns ${playback.underruns}, trimmed ${playback.trimmed}; gaps in the last 2 s ${JSON.stringify(gaps.map((g) => Math.round(g / 48)))} ms; recorded ${(recording.length / RATE).toFixed(2)} s`);
      expect(playback.targetMs).toBeGreaterThan(TARGET_MS);
      // heard: a stream read past every cycle is silent throughout (2 s); a machine starving the writer or the
      // server leaves gaps of its own (0.25 s once, with a CI run beside it)
      expect(gaps.reduce((sum, gap) => sum + gap, 0) / RATE).toBeLessThan(0.5);
    } finally {
      force(0);
    }
  });
});
