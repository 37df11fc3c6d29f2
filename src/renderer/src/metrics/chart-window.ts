import type { MetricKey } from '../../../shared/contract';
import { windowStart, type LiveSeries, type SeriesPosition, type SeriesRing } from './live-series';

export type ChartColumns = [number[], ...Array<Array<number | null>>];

/**
 * The columns one chart draws (x in seconds, then one scaled column per key), kept in the same arrays
 * (hand `data` to uPlot as it is) and rebuilt from the LiveSeries rings only when a redraw asks for them
 * and something changed. With `setBuckets(n)` (n = the plot's width in pixels), a window holding more
 * than 2n points is decimated to the first/last time and the min/max of each key per bucket of
 * windowS/n seconds (buckets aligned to the clock, so the shape does not shimmer as the window slides):
 * an hour draws about 2 points per pixel column instead of 3600, and looks the same.
 */
export class ChartWindow<K extends string = MetricKey> {
  readonly data: ChartColumns;
  private seen: SeriesPosition | null = null;
  private buckets = 0;
  /** Per bucket: index (0 = oldest kept) of its first and its last point. */
  private firsts = new Int32Array(0);
  private lasts = new Int32Array(0);

  constructor(
    private readonly live: LiveSeries<K>,
    private readonly address: string,
    private readonly keys: readonly K[],
    private readonly windowS: number,
    private readonly scale: Partial<Record<K, number>> = {},
  ) {
    this.data = [[], ...keys.map(() => [])];
  }

  /** Decimate to at most about 2 × `buckets` points (0: every point). The next sync rebuilds. */
  setBuckets(buckets: number): void {
    const n = Math.max(0, Math.floor(buckets));
    if (n === this.buckets) return;
    this.buckets = n;
    this.seen = null;
    // A window spans at most n bucket widths, so it touches at most n + 1 buckets.
    if (this.firsts.length < n + 2) {
      this.firsts = new Int32Array(n + 2);
      this.lasts = new Int32Array(n + 2);
    }
  }

  /** Brings `data` up to date with the LiveSeries; returns whether anything changed. */
  sync(): boolean {
    const now = this.live.position(this.address);
    const ring = this.live.raw(this.address);
    if (!now || !ring) return false;
    const seen = this.seen;
    if (seen && seen.generation === now.generation && seen.appended === now.appended) return false;
    this.seen = now;
    const start = windowStart(ring, this.windowS);
    const count = ring.length - start;
    if (this.buckets > 0 && count > 2 * this.buckets) this.decimated(ring, start);
    else this.every(ring, start, count);
    return true;
  }

  private every(ring: SeriesRing<K>, start: number, count: number): void {
    const [t, ...ys] = this.data;
    const { capacity, head } = ring;
    t.length = count;
    for (let i = 0; i < count; i += 1) t[i] = ring.t[(head + start + i) % capacity]! / 1000;
    for (let k = 0; k < this.keys.length; k += 1) {
      const key = this.keys[k]!;
      const source = ring.values[key];
      const factor = this.scale[key] ?? 1;
      const column = ys[k]!;
      column.length = count;
      for (let i = 0; i < count; i += 1) {
        const v = source ? source[(head + start + i) % capacity]! : NaN;
        column[i] = Number.isNaN(v) ? null : v * factor;
      }
    }
  }

  private decimated(ring: SeriesRing<K>, start: number): void {
    const [t, ...ys] = this.data;
    const { capacity, head } = ring;
    const bucketMs = (this.windowS * 1000) / this.buckets;
    const at = (i: number) => ring.t[(head + i) % capacity]!;
    // Bucket boundaries: runs of points with the same floor(t / bucketMs).
    let runs = 0;
    let current = NaN;
    for (let i = start; i < ring.length; i += 1) {
      const b = Math.floor(at(i) / bucketMs);
      if (b !== current) {
        if (runs === this.firsts.length) break; // cannot happen with a monotonic clock; stay in bounds anyway
        current = b;
        this.firsts[runs] = i;
        runs += 1;
      }
      this.lasts[runs - 1] = i;
    }
    let n = 0;
    for (let r = 0; r < runs; r += 1) n += this.firsts[r] === this.lasts[r] ? 1 : 2;
    t.length = n;
    for (let r = 0, o = 0; r < runs; r += 1) {
      const first = this.firsts[r]!;
      const last = this.lasts[r]!;
      t[o++] = at(first) / 1000;
      if (last !== first) t[o++] = at(last) / 1000;
    }
    for (let k = 0; k < this.keys.length; k += 1) {
      const key = this.keys[k]!;
      const source = ring.values[key];
      const factor = this.scale[key] ?? 1;
      const column = ys[k]!;
      column.length = n;
      for (let r = 0, o = 0; r < runs; r += 1) {
        const first = this.firsts[r]!;
        const last = this.lasts[r]!;
        if (!source) {
          column[o++] = null;
          if (last !== first) column[o++] = null;
          continue;
        }
        if (last === first) {
          const v = source[(head + first) % capacity]!;
          column[o++] = Number.isNaN(v) ? null : v * factor;
          continue;
        }
        // Min and max of the bucket, in the order they occurred (NaN — no value — skipped).
        let min = Infinity;
        let max = -Infinity;
        let minAt = 0;
        let maxAt = 0;
        for (let i = first; i <= last; i += 1) {
          const v = source[(head + i) % capacity]!;
          if (v < min) {
            min = v;
            minAt = i;
          }
          if (v > max) {
            max = v;
            maxAt = i;
          }
        }
        if (min === Infinity) {
          column[o++] = null;
          column[o++] = null;
        } else if (minAt <= maxAt) {
          column[o++] = min * factor;
          column[o++] = max * factor;
        } else {
          column[o++] = max * factor;
          column[o++] = min * factor;
        }
      }
    }
  }
}
