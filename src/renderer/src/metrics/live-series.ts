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

/**
 * The kept points of one group in fixed ring buffers (read-only for readers): point i, oldest first, is
 * at slot `(head + i) % capacity` of `t` (ms since the epoch) and of each column; NaN stands for null.
 * Nothing is allocated or moved per point once a column exists, so an hour of history costs the
 * garbage collector nothing.
 */
export interface SeriesRing<K extends string = MetricKey> {
  readonly capacity: number;
  readonly head: number;
  readonly length: number;
  readonly t: Float64Array;
  readonly values: Partial<Record<K, Float64Array>>;
}

interface GpuSeries<K extends string> extends SeriesRing<K> {
  head: number;
  length: number;
  values: Partial<Record<K, Float64Array>>;
  /** The columns as a list, for the per-point loop. */
  columns: Array<[K, Float64Array]>;
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

function emptySeries<K extends string>(generation: number): GpuSeries<K> {
  return { capacity: CAPACITY, head: 0, length: 0, t: new Float64Array(CAPACITY), values: {}, columns: [], generation, appended: 0 };
}

function addColumn<K extends string>(gpu: GpuSeries<K>, key: K): Float64Array {
  const column = new Float64Array(gpu.capacity).fill(NaN);
  gpu.values[key] = column;
  gpu.columns.push([key, column]);
  return column;
}

/** Slot of the next point, making room by dropping the oldest when full. */
function nextSlot<K extends string>(gpu: GpuSeries<K>): number {
  if (gpu.length < gpu.capacity) {
    const slot = (gpu.head + gpu.length) % gpu.capacity;
    gpu.length += 1;
    return slot;
  }
  const slot = gpu.head;
  gpu.head = (gpu.head + 1) % gpu.capacity;
  return slot;
}

function put<K extends string>(gpu: GpuSeries<K>, t: number, values: Partial<Record<K, number | null>>, index = -1, history?: LiveHistory<K>['values']): void {
  const slot = nextSlot(gpu);
  gpu.t[slot] = t;
  for (const [key, column] of gpu.columns) {
    const v = index >= 0 ? history?.[key]?.[index] : values[key];
    column[slot] = v === null || v === undefined ? NaN : v;
  }
}

/**
 * Live metric history outside React: batches append here and charts redraw from it directly, so a
 * new point never re-renders a component. Bounded to one hour per GPU (or per group: K is the key type,
 * GPU metrics by default, a session viewer's figures on the Sessions page), in preallocated typed rings.
 */
export class LiveSeries<K extends string = MetricKey> {
  private readonly gpus = new Map<string, GpuSeries<K>>();
  private readonly listeners = new Set<(address: string) => void>();

  load(series: ReadonlyArray<LiveHistory<K>>): void {
    for (const s of series) {
      const gpu = emptySeries<K>((this.gpus.get(s.address)?.generation ?? 0) + 1);
      for (const key of Object.keys(s.values) as K[]) if (s.values[key]) addColumn(gpu, key);
      for (let i = Math.max(0, s.t.length - gpu.capacity); i < s.t.length; i += 1) put(gpu, s.t[i]!, {}, i, s.values);
      this.gpus.set(s.address, gpu);
      this.emit(s.address);
    }
  }

  append(samples: ReadonlyArray<LiveSample<K>>): void {
    let touched: string[] | null = null;
    for (const sample of samples) {
      let gpu = this.gpus.get(sample.address);
      if (!gpu) this.gpus.set(sample.address, (gpu = emptySeries<K>(1)));
      for (const key in sample.values) if (!gpu.values[key]) addColumn(gpu, key);
      put(gpu, sample.t, sample.values);
      gpu.appended += 1;
      if (!touched) touched = [sample.address];
      else if (!touched.includes(sample.address)) touched.push(sample.address);
    }
    if (touched) for (const address of touched) this.emit(address);
  }

  /** Columns for a chart: seconds since the epoch, then one array per key, limited to the last `windowS`. */
  columns(address: string, keys: readonly K[], windowS: number, scale: Partial<Record<K, number>> = {}): [number[], ...Array<Array<number | null>>] {
    const gpu = this.gpus.get(address);
    if (!gpu || gpu.length === 0) return [[], ...keys.map(() => [])];
    const start = windowStart(gpu, windowS);
    const slots = Array.from({ length: gpu.length - start }, (_, i) => (gpu.head + start + i) % gpu.capacity);
    return [
      slots.map((slot) => gpu.t[slot]! / 1000),
      ...keys.map((key) => {
        const factor = scale[key] ?? 1;
        const column = gpu.values[key];
        return slots.map((slot) => {
          const v = column ? column[slot]! : NaN;
          return Number.isNaN(v) ? null : v * factor;
        });
      }),
    ];
  }

  position(address: string): SeriesPosition | null {
    const gpu = this.gpus.get(address);
    return gpu ? { generation: gpu.generation, appended: gpu.appended } : null;
  }

  /** The kept points of one group (read-only: the rings are live). */
  raw(address: string): SeriesRing<K> | null {
    return this.gpus.get(address) ?? null;
  }

  latest(address: string, key: K): number | null {
    const gpu = this.gpus.get(address);
    const column = gpu?.values[key];
    if (!gpu || !column || gpu.length === 0) return null;
    const v = column[(gpu.head + gpu.length - 1) % gpu.capacity]!;
    return Number.isNaN(v) ? null : v;
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

/** Index (0 = oldest) of the first kept point not older than `windowS` before the newest: a binary search. */
export function windowStart(ring: SeriesRing<string>, windowS: number): number {
  if (ring.length === 0) return 0;
  const at = (i: number) => ring.t[(ring.head + i) % ring.capacity]!;
  const cutoff = at(ring.length - 1) - windowS * 1000;
  let lo = 0;
  let hi = ring.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(mid) < cutoff) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
