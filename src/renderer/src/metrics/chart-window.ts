import type { MetricKey } from '../../../shared/contract';
import type { LiveSeries, SeriesPosition } from './live-series';

export type ChartColumns = [number[], ...Array<Array<number | null>>];

/**
 * The columns one chart draws (x in seconds, then one scaled column per key), kept in place: each sync
 * appends only the points that arrived since the previous one and drops those that left the window,
 * instead of copying and scaling the whole hour on every batch. Hand `data` to uPlot as it is.
 */
export class ChartWindow<K extends string = MetricKey> {
  readonly data: ChartColumns;
  private seen: SeriesPosition | null = null;

  constructor(
    private readonly live: LiveSeries<K>,
    private readonly address: string,
    private readonly keys: readonly K[],
    private readonly windowS: number,
    private readonly scale: Partial<Record<K, number>> = {},
  ) {
    this.data = [[], ...keys.map(() => [])];
  }

  /** Brings `data` up to date with the LiveSeries; returns whether anything changed. */
  sync(): boolean {
    const now = this.live.position(this.address);
    const raw = this.live.raw(this.address);
    if (!now || !raw) return false;
    const seen = this.seen;
    this.seen = now;
    const fresh = seen && seen.generation === now.generation ? now.appended - seen.appended : Infinity;
    if (fresh === 0) return false;
    const from = fresh > raw.t.length || this.data[0].length === 0 ? 0 : raw.t.length - fresh;
    if (from === 0) for (const column of this.data) column.length = 0;
    const [t, ...ys] = this.data;
    for (let i = from; i < raw.t.length; i += 1) t.push(raw.t[i]! / 1000);
    this.keys.forEach((key, k) => {
      const source = raw.values[key];
      const factor = this.scale[key] ?? 1;
      const column = ys[k]!;
      for (let i = from; i < raw.t.length; i += 1) {
        const v = source?.[i] ?? null;
        column.push(v === null ? null : v * factor);
      }
    });
    this.trim();
    return true;
  }

  /** Drops the points older than the window before the newest. */
  private trim(): void {
    const t = this.data[0];
    if (t.length === 0) return;
    const cutoff = t[t.length - 1]! - this.windowS;
    let drop = 0;
    while (drop < t.length && t[drop]! < cutoff) drop += 1;
    if (drop > 0) for (const column of this.data) column.splice(0, drop);
  }
}
