import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameFeed, type FrameReader } from '../../../src/core/capture/frame-feed';

const W = 16;
const H = 16;
const FRAME = (W * H * 3) / 2;

function frame(fill: number): Buffer {
  return Buffer.alloc(FRAME, fill);
}

/** A reader whose frames the test writes, in whatever chunks it likes, and ends when it likes. */
function fakeReader(): FrameReader & { frames: PassThrough; end(how: string): void } {
  const frames = new PassThrough();
  let exit: (how: string) => void = () => undefined;
  const exited = new Promise<string>((resolve) => (exit = resolve));
  return { frames, exited, stop: async () => exit('stopped'), end: (how) => exit(how) };
}

function sink(options: { full?: boolean } = {}): Writable & { got: Buffer[] } {
  const got: Buffer[] = [];
  const writable = new Writable({
    highWaterMark: FRAME,
    write(chunk: Buffer, _encoding, done) {
      got.push(chunk);
      // a full pipe: never drains
      if (!options.full) done();
    },
  });
  return Object.assign(writable, { got });
}

describe('FrameFeed: desktop frames to the encoder runs at a steady rate', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('cuts the reader\'s bytes into whole frames, however they are chunked, and hands each on at once', async () => {
    const reader = fakeReader();
    const feed = new FrameFeed({ width: W, height: H, fps: 50, startReader: () => reader, label: 'test capture' });
    const out = sink();
    feed.attach(out);
    const two = Buffer.concat([frame(1), frame(2)]);
    reader.frames.write(two.subarray(0, 100));
    reader.frames.write(two.subarray(100, FRAME + 7));
    reader.frames.write(two.subarray(FRAME + 7));
    await vi.advanceTimersByTimeAsync(1);
    expect(out.got.map((b) => [b.length, b[0], b[FRAME - 1]])).toEqual([[FRAME, 1, 1], [FRAME, 2, 2]]);
    expect(feed.counts).toMatchObject({ framesIn: 2, framesRepeated: 0 });
    await feed.close();
  });

  it('repeats the last frame on a still screen: first after 1.25 intervals, then once an interval; none while frames keep coming', async () => {
    const reader = fakeReader();
    const feed = new FrameFeed({ width: W, height: H, fps: 50, startReader: () => reader, label: 'test capture' });
    const out = sink();
    feed.attach(out);
    for (let i = 0; i < 10; i += 1) {
      reader.frames.write(frame(i));
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(feed.counts.framesRepeated).toBe(0);
    // 20 ms have passed since the last frame: the first repeat comes at 25, then one every 20
    await vi.advanceTimersByTimeAsync(5 + 20 * 9);
    expect(feed.counts.framesRepeated).toBe(10);
    expect(out.got.slice(-10).every((b) => b[0] === 9)).toBe(true);
    await feed.close();
  });

  it('a run attached late gets the last frame at once; a run whose pipe is full skips frames instead of queueing them', async () => {
    const reader = fakeReader();
    const feed = new FrameFeed({ width: W, height: H, fps: 50, startReader: () => reader, label: 'test capture' });
    reader.frames.write(frame(7));
    await vi.advanceTimersByTimeAsync(1);
    const late = sink();
    feed.attach(late);
    expect(late.got[0]?.[0]).toBe(7);
    const stuck = sink({ full: true });
    feed.attach(stuck);
    for (let i = 0; i < 5; i += 1) reader.frames.write(frame(i));
    await vi.advanceTimersByTimeAsync(1);
    expect(stuck.got.length).toBe(1);
    expect(feed.counts.framesSkipped).toBeGreaterThanOrEqual(4);
    await feed.close();
  });

  it('restarts a reader that stops while the capture goes on, and ends with a sentence after too many', async () => {
    const readers: ReturnType<typeof fakeReader>[] = [];
    const feed = new FrameFeed({ width: W, height: H, fps: 50, startReader: () => readers[readers.push(fakeReader()) - 1]!, label: 'test capture', maxRestarts: 2 });
    const ended = new Promise<string>((resolve) => feed.once('ended', resolve));
    for (let i = 0; i < 3; i += 1) {
      readers.at(-1)!.end(`exited with code 1: stream error ${i}`);
      await vi.advanceTimersByTimeAsync(400);
    }
    expect(readers).toHaveLength(3);
    expect(feed.counts.readerRestarts).toBe(2);
    expect(await ended).toBe('test capture stopped delivering frames (exited with code 1: stream error 2), 2 times in 10 s; check that the desktop session and PipeWire are still running, then start the session again');
  });

  it('ends with the capture\'s own words when the desktop ends the capture, and restarts nothing', async () => {
    let stop: (reason: string) => void = () => undefined;
    const captureEnded = new Promise<string>((resolve) => (stop = resolve));
    const readers: ReturnType<typeof fakeReader>[] = [];
    const feed = new FrameFeed({ width: W, height: H, fps: 50, startReader: () => readers[readers.push(fakeReader()) - 1]!, captureEnded, label: 'test capture' });
    const ended = new Promise<string>((resolve) => feed.once('ended', resolve));
    readers[0]!.end('exited with code 1');
    stop('the screen share was stopped on the workstation (the portal closed the session)');
    await vi.advanceTimersByTimeAsync(400);
    expect(await ended).toBe('test capture: the screen share was stopped on the workstation (the portal closed the session)');
    expect(readers).toHaveLength(1);
  });
});
