import { describe, expect, it } from 'vitest';
import { LATE_GRACE_MS } from '../../../src/core/audio/audio-playout';
import { MAX_JITTER_ROOM_MS, MAX_VIDEO_HOLD_MS, MIN_CLEAN_ROOM_MS, MIN_JITTER_ROOM_MS, PlayoutDelay } from '../../../src/core/audio/playout-delay';

describe('PlayoutDelay (lip sync)', () => {
  it('on a steady path that loses nothing: the transit floor plus the jitter\'s room, no frame kept for FEC', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 50; i += 1) delay.transit(1000 + (i % 2) * 6);
    // the spread (6 ms) and what the playout's grace for a late packet leaves of the 4 ms margin over it
    expect(delay.target).toBe(1006 + 4 - LATE_GRACE_MS);
    for (let i = 0; i < 50; i += 1) delay.transit(1000);
    expect(delay.target).toBeGreaterThanOrEqual(1000 + MIN_CLEAN_ROOM_MS);
  });

  it('a loss brings back one frame and a little of room at once, for the next packet\'s FEC, and keeps it a while', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 50; i += 1) delay.transit(1000);
    expect(delay.least).toBe(1000 + MIN_CLEAN_ROOM_MS);
    delay.loss();
    expect(delay.target).toBe(1000 + MIN_JITTER_ROOM_MS);
    expect(delay.least).toBe(1000 + MIN_JITTER_ROOM_MS);
    for (let i = 0; i < 500; i += 1) delay.transit(1000);
    expect(delay.target).toBe(1000 + MIN_JITTER_ROOM_MS);
    // ten seconds of frames without a loss: back down, slowly
    for (let i = 0; i < 1000; i += 1) delay.transit(1000);
    expect(delay.target).toBe(1000 + MIN_CLEAN_ROOM_MS);
  });

  it('rises at once with jitter, comes down slowly when it is gone, and never past the cap', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 100; i += 1) delay.transit(i % 10 === 0 ? 1060 : 1000);
    const jittery = delay.target!;
    expect(jittery).toBeGreaterThan(1000 + 50);
    for (let i = 0; i < 100; i += 1) delay.transit(1000);
    // a second of calm later: lower, not yet down to the floor's room
    expect(delay.target!).toBeLessThan(jittery);
    expect(delay.target!).toBeGreaterThan(1000 + MIN_JITTER_ROOM_MS);
    for (let i = 0; i < 100; i += 1) delay.transit(i % 4 === 0 ? 1500 : 1000);
    expect(delay.target).toBe(1000 + MAX_JITTER_ROOM_MS);
  });

  it('a picture later than the sound: the sound waits for it, the picture is not held', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 20; i += 1) delay.transit(1000);
    for (let i = 0; i < 10; i += 1) delay.videoFrame(1080);
    // heard = written + the sink's 20 ms: written at 1060 the sound is heard with the picture at 1080
    expect(delay.target).toBe(1060);
    expect(delay.videoHoldMs).toBe(0);
  });

  it('sound later than the picture: the picture waits, by the difference, and its delay is measured without the hold', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 20; i += 1) delay.transit(1000);
    delay.loss();
    for (let i = 0; i < 10; i += 1) delay.videoFrame(1005);
    const heard = 1000 + MIN_JITTER_ROOM_MS + 20;
    expect(delay.videoHoldMs).toBe(heard - 1005);
    // frames decoded after the hold are the picture's own delay plus it: the hold stays put
    for (let i = 0; i < 30; i += 1) delay.videoFrame(1005 + delay.videoHoldMs);
    expect(delay.videoHoldMs).toBe(heard - 1005);
    expect(delay.shownVideoDelay).toBe(heard);
    expect(delay.target).toBe(1000 + MIN_JITTER_ROOM_MS);
  });

  it('the picture is held to the sound as written to the sink, not to its target (the playout strays from it)', () => {
    const delay = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 20; i += 1) delay.transit(1000);
    for (let i = 0; i < 10; i += 1) delay.videoFrame(1005);
    for (let i = 0; i < 30; i += 1) delay.written(1010 + (i % 3));
    // heard at the median written delay (1011) plus the sink's 20 ms
    expect(delay.videoHoldMs).toBe(1011 + 20 - 1005);
  });

  it('holds the picture at most MAX_VIDEO_HOLD_MS, and not at all where the sound is not heard', () => {
    const far = new PlayoutDelay({ latencyMs: 20, kind: 'pulse' });
    for (let i = 0; i < 100; i += 1) far.transit(i % 4 === 0 ? 1500 : 1000);
    far.videoFrame(900);
    expect(far.videoHoldMs).toBe(MAX_VIDEO_HOLD_MS);
    const headless = new PlayoutDelay({ latencyMs: 0, kind: 'none' });
    for (let i = 0; i < 20; i += 1) headless.transit(1000);
    headless.videoFrame(990);
    expect(headless.videoHoldMs).toBe(0);
  });

  it('reads the sink\'s latency live (a sink whose target rose after an underrun): the sound waits less for a late picture', () => {
    const sink = { latencyMs: 20, kind: 'pulse' };
    const delay = new PlayoutDelay(sink);
    for (let i = 0; i < 50; i += 1) delay.transit(1000);
    for (let i = 0; i < 30; i += 1) delay.videoFrame(1040);
    expect(delay.target).toBe(1020);
    sink.latencyMs = 25;
    expect(delay.target).toBe(1015);
  });
});
