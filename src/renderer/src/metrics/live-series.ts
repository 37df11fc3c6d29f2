import type { MetricKey } from '../../../shared/contract';

/** One point of one series group (a GPU, or a session's viewer): ms since the epoch and its values. */
export interface LiveSample<K extends string = MetricKey> {
  t: number;
  address: string;
  values: Partial<Record<K, number | null>>;
}

/** A group's history, as `metrics.history` returns it. */
export interface LiveHistory<K extends string = MetricKey> {
  address: string;
  t: number[];
  values: Partial<Record<K, Array<number | null>>>;
}

const CAPACITY = 3600;

interface GpuSeries<K extends string> {
  t: number[];
  values: Partial<Record<K, Array<number | null>>>;
  /** Bumped when load() replaces the history: readers that follow appends must start over. */
  generation: number;
  /** Points appended since the last load(): a reader takes the last (appended − what it saw). */
  appended: number;
}

/** Where a reader stands: compare with a later `position()` to learn what changed. */
export interface SeriesPosition {
  generation: number;
  appended: number;
}

/**
 * Live metric history outside React: batches append here and charts redraw from it directly, so a
 * new point never re-renders a component. Bounded to one hour per GPU (or per group: K is the key type,
 * GPU metrics by default, a session viewer's figures on the Sessions page).
 */
export class LiveSeries<K extends string = MetricKey> {
  private readonly gpus = new Map<string, GpuSeries<K>>();
  private readonly listeners = new Set<(address: string) => void>();

  load(series: ReadonlyArray<LiveHistory<K>>): void {
    for (const s of series) {
      const generation = (this.gpus.get(s.address)?.generation ?? 0) + 1;
      this.gpus.set(s.address, { t: [...s.t], values: Object.fromEntries(Object.entries<Array<number | null> | undefined>(s.values).map(([k, v]) => [k, [...(v ?? [])]])) as GpuSeries<K>['values'], generation, appended: 0 });
      this.emit(s.address);
    }
  }

  append(samples: ReadonlyArray<LiveSample<K>>): void {
    const touched = new Set<string>();
    for (const sample of samples) {
      let gpu = this.gpus.get(sample.address);
      if (!gpu) this.gpus.set(sample.address, (gpu = { t: [], values: {}, generation: 1, appended: 0 }));
      const length = gpu.t.length;
      gpu.t.push(sample.t);
      gpu.appended += 1;
      const keys = new Set([...Object.keys(gpu.values), ...Object.keys(sample.values)] as K[]);
      for (const key of keys) {
        let column = gpu.values[key];
        if (!column) gpu.values[key] = column = new Array<number | null>(length).fill(null);
        column.push(sample.values[key] ?? null);
      }
      if (gpu.t.length > CAPACITY) {
        const drop = gpu.t.length - CAPACITY;
        gpu.t.splice(0, drop);
        for (const column of Object.values<Array<number | null> | undefined>(gpu.values)) column?.splice(0, drop);
      }
      touched.add(sample.address);
    }
    for (const address of touched) this.emit(address);
  }

  /** Columns for a chart: seconds since the epoch, then one array per key, limited to the last `windowS`. */
  columns(address: string, keys: readonly K[], windowS: number, scale: Partial<Record<K, number>> = {}): [number[], ...Array<Array<number | null>>] {
    const gpu = this.gpus.get(address);
    if (!gpu || gpu.t.length === 0) return [[], ...keys.map(() => [])];
    const cutoff = gpu.t[gpu.t.length - 1]! - windowS * 1000;
    let start = 0;
    while (start < gpu.t.length && gpu.t[start]! < cutoff) start += 1;
    const t = gpu.t.slice(start).map((ms) => ms / 1000);
    return [
      t,
      ...keys.map((key) => {
        const factor = scale[key] ?? 1;
        return (gpu.values[key] ?? []).slice(start).map((v) => (v === null ? null : v * factor));
      }),
    ];
  }

  position(address: string): SeriesPosition | null {
    const gpu = this.gpus.get(address);
    return gpu ? { generation: gpu.generation, appended: gpu.appended } : null;
  }

  /** The kept points of one GPU, oldest first (read-only: the arrays are live). */
  raw(address: string): { t: readonly number[]; values: Partial<Record<K, readonly (number | null)[]>> } | null {
    return this.gpus.get(address) ?? null;
  }

  latest(address: string, key: K): number | null {
    const column = this.gpus.get(address)?.values[key];
    return column && column.length > 0 ? (column[column.length - 1] ?? null) : null;
  }

  /** The groups held (GPU addresses, or session viewers). */
  addresses(): string[] {
    return [...this.gpus.keys()];
  }

  /** Drops a group's history (a session that is gone). */
  forget(address: string): void {
    if (this.gpus.delete(address)) this.emit(address);
  }

  subscribe(listener: (address: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(address: string): void {
    for (const listener of this.listeners) listener(address);
  }
}
