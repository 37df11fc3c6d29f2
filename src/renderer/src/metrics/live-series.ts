import type { MetricKey, MetricSample, MetricsSeries } from '../../../shared/contract';

const CAPACITY = 3600;

interface GpuSeries {
  t: number[];
  values: Partial<Record<MetricKey, Array<number | null>>>;
}

/**
 * Live metric history outside React: batches append here and charts redraw from it directly, so a
 * new point never re-renders a component. Bounded to one hour per GPU.
 */
export class LiveSeries {
  private readonly gpus = new Map<string, GpuSeries>();
  private readonly listeners = new Set<(address: string) => void>();

  load(series: MetricsSeries[]): void {
    for (const s of series) {
      this.gpus.set(s.address, { t: [...s.t], values: Object.fromEntries(Object.entries(s.values).map(([k, v]) => [k, [...(v ?? [])]])) });
      this.emit(s.address);
    }
  }

  append(samples: MetricSample[]): void {
    const touched = new Set<string>();
    for (const sample of samples) {
      let gpu = this.gpus.get(sample.address);
      if (!gpu) this.gpus.set(sample.address, (gpu = { t: [], values: {} }));
      const length = gpu.t.length;
      gpu.t.push(sample.t);
      const keys = new Set([...Object.keys(gpu.values), ...Object.keys(sample.values)] as MetricKey[]);
      for (const key of keys) {
        let column = gpu.values[key];
        if (!column) gpu.values[key] = column = new Array<number | null>(length).fill(null);
        column.push(sample.values[key] ?? null);
      }
      if (gpu.t.length > CAPACITY) {
        const drop = gpu.t.length - CAPACITY;
        gpu.t.splice(0, drop);
        for (const column of Object.values(gpu.values)) column?.splice(0, drop);
      }
      touched.add(sample.address);
    }
    for (const address of touched) this.emit(address);
  }

  /** Columns for a chart: seconds since the epoch, then one array per key, limited to the last `windowS`. */
  columns(address: string, keys: readonly MetricKey[], windowS: number, scale: Partial<Record<MetricKey, number>> = {}): [number[], ...Array<Array<number | null>>] {
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

  latest(address: string, key: MetricKey): number | null {
    const column = this.gpus.get(address)?.values[key];
    return column && column.length > 0 ? (column[column.length - 1] ?? null) : null;
  }

  subscribe(listener: (address: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(address: string): void {
    for (const listener of this.listeners) listener(address);
  }
}
