/**
 * A fixed-size ring of (time, value) points. Memory is allocated once (two Float64Arrays), so it does not
 * grow with uptime; null is stored as NaN.
 */
export class RingBuffer {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(t: number, value: number | null): void {
    const at = (this.start + this.count) % this.capacity;
    this.times[at] = t;
    this.values[at] = value ?? Number.NaN;
    if (this.count < this.capacity) this.count += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Oldest first; points at or after `since` (ms) only, when given. */
  toArrays(since = Number.NEGATIVE_INFINITY): { t: number[]; v: Array<number | null> } {
    const t: number[] = [];
    const v: Array<number | null> = [];
    for (let i = 0; i < this.count; i += 1) {
      const at = (this.start + i) % this.capacity;
      const time = this.times[at] as number;
      if (time < since) continue;
      const value = this.values[at] as number;
      t.push(time);
      v.push(Number.isNaN(value) ? null : value);
    }
    return { t, v };
  }

  last(): { t: number; v: number | null } | null {
    if (this.count === 0) return null;
    const at = (this.start + this.count - 1) % this.capacity;
    const value = this.values[at] as number;
    return { t: this.times[at] as number, v: Number.isNaN(value) ? null : value };
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }
}
