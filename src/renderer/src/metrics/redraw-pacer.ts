export interface PacerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  requestFrame(fn: () => void): unknown;
  cancelFrame(handle: unknown): void;
}

/**
 * One requestAnimationFrame for every chart that wants the next frame: the charts a batch makes due
 * redraw together in a single frame (one commit of the page's layers, not one per chart).
 */
export function sharedFrames(request: (fn: () => void) => unknown = (fn) => requestAnimationFrame(fn)): Pick<PacerClock, 'requestFrame' | 'cancelFrame'> {
  const queue = new Set<() => void>();
  let pending = false;
  const run = () => {
    pending = false;
    const callbacks = [...queue];
    queue.clear();
    for (const fn of callbacks) fn();
  };
  return {
    requestFrame: (fn) => {
      // A fresh wrapper per request, so that the handle (and cancelling it) is that request's own.
      const entry = () => fn();
      queue.add(entry);
      if (!pending) {
        pending = true;
        request(run);
      }
      return entry;
    },
    cancelFrame: (handle) => void queue.delete(handle as () => void),
  };
}

const frames = sharedFrames();

const browserClock: PacerClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  requestFrame: frames.requestFrame,
  cancelFrame: frames.cancelFrame,
};

/**
 * Decides when one chart redraws, so that a dashboard of many charts stays cheap per batch: only while
 * it is on screen and not paused, in an animation frame (shared by all charts), and at most once per
 * `intervalMs()` (the time one pixel of the chart spans: a redraw sooner would not move anything).
 * The first interval starts at a random phase so that charts with long intervals (the 1 h window) do
 * not all come due in the same frame, which would make one long task of their redraws; charts due on
 * the same batch (short windows) still share one animation frame.
 */
export class RedrawPacer {
  private dirty = false;
  private visible = true;
  private paused = false;
  private last: number;
  private timer: unknown = null;
  private frame: unknown = null;

  constructor(
    private readonly draw: () => void,
    private readonly intervalMs: () => number,
    private readonly clock: PacerClock = browserClock,
    phase = Math.random(),
  ) {
    this.last = clock.now() - phase * intervalMs();
  }

  /** New data: redraw when allowed. */
  invalidate(): void {
    this.dirty = true;
    this.kick();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this.kick();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.kick();
  }

  dispose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    if (this.frame !== null) this.clock.cancelFrame(this.frame);
    this.timer = this.frame = null;
    this.dirty = false;
  }

  private kick(): void {
    if (!this.dirty || !this.visible || this.paused || this.timer !== null || this.frame !== null) return;
    const wait = this.last + this.intervalMs() - this.clock.now();
    if (wait > 0) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.kick();
      }, wait);
      return;
    }
    this.frame = this.clock.requestFrame(() => {
      this.frame = null;
      if (!this.dirty || !this.visible || this.paused) return;
      this.dirty = false;
      this.last = this.clock.now();
      this.draw();
    });
  }
}
