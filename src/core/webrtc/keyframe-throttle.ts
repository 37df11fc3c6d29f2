/** A browser repeats its PLI/FIR until a keyframe arrives: requests closer together than this are one. */
export const KEYFRAME_REQUEST_INTERVAL_MS = 250;

/** At most one keyframe request per interval; `take` says whether this one goes through. */
export class KeyframeThrottle {
  private last = -Infinity;
  passed = 0;
  held = 0;

  constructor(private readonly intervalMs = KEYFRAME_REQUEST_INTERVAL_MS) {}

  take(now = Date.now()): boolean {
    if (now - this.last < this.intervalMs) {
      this.held += 1;
      return false;
    }
    this.last = now;
    this.passed += 1;
    return true;
  }
}
