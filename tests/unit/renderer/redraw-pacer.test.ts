import { describe, expect, it } from 'vitest';
import { RedrawPacer, sharedFrames, type PacerClock } from '../../../src/renderer/src/metrics/redraw-pacer';

/** A clock whose timers and animation frames run only when the test says so. */
function fakeClock() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void }> = [];
  let frames: Array<() => void> = [];
  const clock: PacerClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (handle) => (timers = timers.filter((t) => t !== handle)),
    requestFrame: (fn) => (frames.push(fn), fn),
    cancelFrame: (handle) => (frames = frames.filter((f) => f !== handle)),
  };
  return {
    clock,
    advance(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      due.forEach((t) => t.fn());
    },
    frame() {
      const run = frames;
      frames = [];
      run.forEach((f) => f());
    },
  };
}

describe('RedrawPacer', () => {
  it('redraws in an animation frame, at most once per interval, coalescing invalidations', () => {
    const c = fakeClock();
    let draws = 0;
    const pacer = new RedrawPacer(() => (draws += 1), () => 1000, c.clock, 1);
    pacer.invalidate();
    pacer.invalidate();
    c.frame();
    expect(draws).toBe(1);
    pacer.invalidate();
    c.frame();
    expect(draws).toBe(1); // within the interval: waits
    c.advance(999);
    c.frame();
    expect(draws).toBe(1);
    c.advance(1);
    c.frame();
    expect(draws).toBe(2);
    c.frame();
    expect(draws).toBe(2); // nothing new
  });

  it('does not draw while off screen or paused, and catches up when shown or resumed', () => {
    const c = fakeClock();
    let draws = 0;
    const pacer = new RedrawPacer(() => (draws += 1), () => 0, c.clock, 0);
    pacer.setVisible(false);
    pacer.invalidate();
    c.frame();
    expect(draws).toBe(0);
    pacer.setVisible(true);
    c.frame();
    expect(draws).toBe(1);
    pacer.setPaused(true);
    pacer.invalidate();
    c.advance(5000);
    c.frame();
    expect(draws).toBe(1);
    pacer.setPaused(false);
    c.frame();
    expect(draws).toBe(2);
  });

  it('a random phase spreads the first redraws of charts created together', () => {
    const c = fakeClock();
    const drawn: number[] = [];
    const pacers = [0, 0.5, 0.99].map((phase, i) => new RedrawPacer(() => drawn.push(i), () => 1000, c.clock, phase));
    pacers.forEach((p) => p.invalidate());
    c.frame();
    expect(drawn).toEqual([]); // phase 0 waits a whole interval
    c.advance(10);
    c.frame();
    expect(drawn).toEqual([2]);
    c.advance(500);
    c.frame();
    expect(drawn).toEqual([2, 1]);
    pacers.forEach((p) => p.dispose());
  });
});

describe('sharedFrames', () => {
  it('runs every chart that asked for the next frame in one animation frame, and cancels one alone', () => {
    const requested: Array<() => void> = [];
    const frames = sharedFrames((fn) => requested.push(fn));
    const ran: string[] = [];
    frames.requestFrame(() => ran.push('a'));
    const b = frames.requestFrame(() => ran.push('b'));
    frames.requestFrame(() => ran.push('c'));
    frames.cancelFrame(b);
    expect(requested).toHaveLength(1);
    requested.shift()!();
    expect(ran).toEqual(['a', 'c']);
    frames.requestFrame(() => ran.push('d')); // the next frame is a new request
    expect(requested).toHaveLength(1);
    requested.shift()!();
    expect(ran).toEqual(['a', 'c', 'd']);
  });
});
