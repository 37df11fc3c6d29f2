// PulsePlayback's own decisions (where each write goes, when the target moves), against a stand-in for
// libpulse that records the calls: a stand-in, because the decisions are about time and what the server
// reports, which a real server cannot be made to do on cue. The real server's side of it (sound written
// after a stall is heard as soon as before it) is tests/integration/pulse-playback.test.ts.
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES } from '../../../src/core/audio/opus-lib';
import type { PulseLib, TimingInfo } from '../../../src/core/audio/pulse-lib';
import { PA_CONTEXT_READY, PA_SEEK_RELATIVE, PA_SEEK_RELATIVE_ON_READ, PA_STREAM_READY } from '../../../src/core/audio/pulse-lib';
import { PulsePlayback } from '../../../src/core/audio/pulse-playback';

const HALF = Buffer.alloc(FRAME_BYTES / 2);
/** s16 stereo at 48 kHz. */
const BYTES_PER_MS = 192;

interface Call {
  bytes: number;
  seek: number;
  silent: boolean;
}

function standIn(): { lib: PulseLib; writes: Call[]; corks: number[]; underflow: () => void; timing: { info: TimingInfo | null }; failWrites: { on: boolean } } {
  const writes: Call[] = [];
  const corks: number[] = [];
  let underflow: (() => void) | null = null;
  const timing: { info: TimingInfo | null } = { info: null };
  const failWrites = { on: false };
  const handle = {};
  const lib = {
    mainloopNew: () => handle,
    mainloopGetApi: () => handle,
    mainloopIterate: () => 0,
    mainloopFree: () => undefined,
    contextNew: () => handle,
    contextConnect: () => 0,
    contextGetState: () => PA_CONTEXT_READY,
    contextErrno: () => 0,
    contextDisconnect: () => undefined,
    contextUnref: () => undefined,
    strerror: () => 'Connection terminated',
    streamNew: () => handle,
    streamConnectPlayback: () => 0,
    streamGetState: () => PA_STREAM_READY,
    streamWrite: (_s: unknown, data: Buffer, bytes: number, _f: unknown, _o: number, seek: number) => {
      if (failWrites.on) return -1;
      writes.push({ bytes, seek, silent: data.every((b) => b === 0) });
      return 0;
    },
    streamCork: (_s: unknown, b: number) => {
      corks.push(b);
      return null;
    },
    streamUpdateTimingInfo: () => null,
    streamGetTimingInfo: () => (timing.info ? handle : null),
    streamSetUnderflowCallback: () => undefined,
    streamDisconnect: () => 0,
    streamUnref: () => undefined,
    operationUnref: () => undefined,
    notifyCallback: (fn: () => void) => {
      underflow = fn;
      return fn;
    },
    unregister: () => undefined,
    timingInfo: () => timing.info!,
  } as unknown as PulseLib;
  return { lib, writes, corks, underflow: () => underflow!(), timing, failWrites };
}

async function opened(targetMs = 12) {
  const fake = standIn();
  const clock = { now: 0 };
  const playback = await PulsePlayback.open({ server: null, targetMs, lib: fake.lib, now: () => clock.now });
  return { ...fake, clock, playback };
}

describe('PulsePlayback (libpulse stand-in)', () => {
  it('starts corked and leads its first sound with silence, so the stream holds its target from the start', async () => {
    const { playback, writes, corks } = await opened(12);
    expect(playback.write(HALF)).toBe(true);
    expect(writes).toEqual([
      { bytes: 12 * BYTES_PER_MS - HALF.length, seek: PA_SEEK_RELATIVE, silent: true },
      { bytes: HALF.length, seek: PA_SEEK_RELATIVE, silent: true },
    ]);
    expect(corks).toEqual([0]);
    playback.write(HALF);
    expect(writes.at(-1)).toEqual({ bytes: HALF.length, seek: PA_SEEK_RELATIVE, silent: true });
    expect(corks).toEqual([0]);
    await playback.close();
  });

  it('after an underrun writes the target ahead of where the server reads, a half frame more, and counts it', async () => {
    const { playback, writes, underflow, clock } = await opened(12);
    playback.write(HALF);
    underflow();
    expect(playback.underruns).toBe(1);
    clock.now = 100;
    playback.write(HALF);
    const [lead, sound] = writes.slice(-2);
    expect(lead).toEqual({ bytes: 17 * BYTES_PER_MS - HALF.length, seek: PA_SEEK_RELATIVE_ON_READ, silent: true });
    expect(sound!.seek).toBe(PA_SEEK_RELATIVE);
    expect(playback.targetMs).toBe(17);
    // the next write simply follows
    playback.write(HALF);
    expect(writes.at(-1)!.seek).toBe(PA_SEEK_RELATIVE);
    await playback.close();
  });

  it('raises its target at most 100 ms, and brings it back down a half frame (one dropped) every 3 s without an underrun', async () => {
    const { playback, writes, underflow, clock } = await opened(12);
    playback.write(HALF);
    for (let i = 0; i < 22; i += 1) {
      // underruns 50 ms apart: each its own (one within 30 ms of the last resync is the same one)
      clock.now += 50;
      underflow();
      playback.write(HALF);
    }
    expect(playback.targetMs).toBe(112);
    const steps: number[] = [];
    let dropped = 0;
    const from = clock.now;
    for (let t = from; t <= from + 61_000; t += 5) {
      const before = playback.targetMs;
      const count = writes.length;
      clock.now = t;
      const wrote = playback.write(HALF);
      if (!wrote) {
        dropped += 1;
        expect(writes.length).toBe(count);
        steps.push(t);
        expect(playback.targetMs).toBe(before - 5);
      }
    }
    expect(playback.targetMs).toBe(12);
    expect(dropped).toBe(20);
    expect(playback.trimmed).toBe(20);
    // 3 s apart
    expect(new Set(steps.slice(1).map((t, i) => t - steps[i]!))).toEqual(new Set([3000]));
    await playback.close();
  });

  it('an output that runs dry each time the target comes down is tried again ever later (3, 6, 12 s…), not every 3 s', async () => {
    const { playback, underflow, clock } = await opened(12);
    playback.write(HALF);
    const lowered: number[] = [];
    let dryAt: number | null = 0;
    for (let t = 0; t <= 60_000; t += 5) {
      clock.now = t;
      // this output needs 17 ms: 1 s after each step down to 12 it runs dry
      if (dryAt !== null && t >= dryAt) {
        underflow();
        dryAt = null;
      }
      const before = playback.targetMs;
      playback.write(HALF);
      if (playback.targetMs < before) {
        lowered.push(t);
        dryAt = t + 1000;
      }
    }
    expect(lowered.slice(1).map((t, i) => t - lowered[i]! - 1000)).toEqual([6000, 12_000, 24_000]);
    expect(lowered.length).toBe(4);
    // a stall long after the last step down starts the wait at 3 s again
    clock.now = 200_000;
    underflow();
    playback.write(HALF);
    clock.now = 203_000;
    expect(playback.write(HALF)).toBe(false);
    await playback.close();
  });

  it('drops a half frame when even the least level of 2 s of reports is over the target (the output\'s clock slower than ours)', async () => {
    const { playback, writes, timing, clock } = await opened(12);
    playback.write(HALF);
    const report = (i: number, levelMs: number) => {
      // read indexes with no common cycle worth a floor (reads that are not whole cycles: a resampling stream)
      const readIndex = 100_000 + i * 48_004;
      timing.info = { atMs: 1_000_000 + i, playing: true, readIndex, writeIndex: readIndex + levelMs * BYTES_PER_MS, sinkUsec: 0 };
    };
    for (let i = 0; i < 8; i += 1) {
      report(i, i === 3 ? 11 : 23);
      clock.now = 250 * (i + 1);
      expect(playback.write(HALF)).toBe(true);
    }
    // one report at 11 ms among them: the trough is not over the target yet
    for (let i = 8; i < 12; i += 1) {
      report(i, 23);
      clock.now = 250 * (i + 1);
      expect(playback.write(HALF)).toBe(i !== 11);
    }
    const count = writes.length;
    expect(playback.trimmed).toBe(1);
    // a report read once: the same one again counts for nothing
    clock.now += 5;
    expect(playback.write(HALF)).toBe(true);
    expect(writes.length).toBe(count + 1);
    await playback.close();
  });

  it('finds a server cycle longer than its target from the read indexes (whole cycles), and raises its floor over it at once', async () => {
    const { playback, writes, timing, clock } = await opened(12);
    playback.write(HALF);
    // a quantum of 1024 samples: 4096 bytes a cycle, 21.3 ms; found at the eighth report
    let count = 0;
    for (let i = 1; i <= 8; i += 1) {
      timing.info = { atMs: 1_000_000 + i, playing: true, readIndex: 4096 * (3 * i + 1), writeIndex: 4096 * (3 * i + 1) + 2304, sinkUsec: 0 };
      clock.now = 250 * i;
      count = writes.length;
      playback.write(HALF);
      if (i < 8) expect(writes.length).toBe(count + 1);
    }
    const floorBytes = 4096 + 7 * BYTES_PER_MS;
    expect(writes[count]).toEqual({ bytes: floorBytes - HALF.length, seek: PA_SEEK_RELATIVE_ON_READ, silent: true });
    const floorMs = floorBytes / BYTES_PER_MS;
    expect(playback.targetMs).toBeCloseTo(floorMs, 1);
    expect(playback.underruns).toBe(0);
    // the floor holds: 3 s on, the target does not come down under it
    clock.now += 3500;
    expect(playback.write(HALF)).toBe(true);
    expect(playback.targetMs).toBeCloseTo(floorMs, 1);
    // a read index that is not a multiple of it (the cycle was two of the true one, by chance): the floor comes
    // down with what is found, and the target after it, a half frame each 3 s
    timing.info = { atMs: 2_000_000, playing: true, readIndex: 4096 * 100 + 1024, writeIndex: 4096 * 100 + 1024 + 2304, sinkUsec: 0 };
    clock.now += 5;
    playback.write(HALF);
    const from = clock.now;
    for (let t = from; t < from + 10_000; t += 5) {
      clock.now = t;
      playback.write(HALF);
    }
    expect(playback.targetMs).toBeCloseTo(Math.max(12, 1024 / BYTES_PER_MS + 7), 1);
    await playback.close();
  });

  it('counts an underrun the server did not tell of (two reports in a row: read past our sound), and raises the target by what it had read past', async () => {
    const { playback, writes, timing, clock } = await opened(12);
    playback.write(HALF);
    timing.info = { atMs: 1_000_000, playing: true, readIndex: 100_003 * 4, writeIndex: 100_003 * 4 - 3 * BYTES_PER_MS, sinkUsec: 0 };
    clock.now = 250;
    playback.write(HALF);
    // one report alone is not enough
    expect(playback.underruns).toBe(0);
    timing.info = { ...timing.info, atMs: 1_000_250 };
    clock.now = 500;
    playback.write(HALF);
    expect(playback.underruns).toBe(1);
    const [lead] = writes.slice(-2);
    expect(lead!.seek).toBe(PA_SEEK_RELATIVE_ON_READ);
    expect(playback.targetMs).toBeCloseTo(12 + 5 + 3, 1);
    await playback.close();
  });

  it('takes the server\'s notice and its report of the same underrun, one after the other, for one underrun', async () => {
    const { playback, writes, underflow, timing, clock } = await opened(12);
    playback.write(HALF);
    // the reports first: read past our sound, twice
    const wall = performance.timeOrigin + performance.now();
    timing.info = { atMs: wall - 250, playing: true, readIndex: 100_003 * 4, writeIndex: 100_003 * 4 - 2 * BYTES_PER_MS, sinkUsec: 0 };
    clock.now = 250;
    playback.write(HALF);
    timing.info = { ...timing.info, atMs: wall };
    clock.now = 500;
    playback.write(HALF);
    expect(playback.underruns).toBe(1);
    const target = playback.targetMs;
    // then the server's notice of it, and a report asked for before the resync and answered after it
    underflow();
    timing.info = { ...timing.info, atMs: wall + 1 };
    clock.now = 505;
    const count = writes.length;
    playback.write(HALF);
    expect(playback.underruns).toBe(1);
    expect(playback.targetMs).toBe(target);
    expect(writes.slice(count).map((w) => w.seek)).toEqual([PA_SEEK_RELATIVE]);
    await playback.close();
  });

  it('says why once the server stops taking sound, and drops what comes after without calling it again', async () => {
    const { playback, writes, failWrites } = await opened(12);
    playback.write(HALF);
    failWrites.on = true;
    expect(playback.write(HALF)).toBe(false);
    expect(playback.failed).toMatch(/stopped taking sound: Connection terminated/);
    failWrites.on = false;
    const count = writes.length;
    expect(playback.write(HALF)).toBe(false);
    expect(writes.length).toBe(count);
    await playback.close();
  });
});
