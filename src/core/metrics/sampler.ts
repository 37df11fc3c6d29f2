import { METRIC_KEYS, type MetricKey, type MetricSample, type MetricsSeries, type MetricsStatus } from '../../shared/contract/metrics';
import { MetricsExporter } from './prometheus';
import { RingBuffer } from './ring-buffer';
import type { GpuReading, MetricsSource } from './sources';

export const MIN_HZ = 0.2;
export const MAX_HZ = 10;
/** Batches go out at most this often (4 a second), whatever the rate and number of series. */
export const MIN_BATCH_INTERVAL_MS = 250;

export interface SamplerOptions {
  source: MetricsSource | null;
  hz?: number;
  /** Points kept per series; default 1 h at 1 Hz. */
  capacity?: number;
  onBatch?: (samples: MetricSample[]) => void;
  exporter?: MetricsExporter;
  now?: () => number;
}

interface GpuSeries {
  name: string | null;
  buffers: Map<MetricKey, RingBuffer>;
}

/**
 * One timer for every GPU: each tick reads the source once, appends to fixed-size ring buffers, updates
 * the Prometheus gauges and queues the points for the next batch (at most one batch per 250 ms).
 */
export class MetricsSampler {
  readonly exporter: MetricsExporter;
  private readonly capacity: number;
  private readonly series = new Map<string, GpuSeries>();
  private hz: number;
  private timer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private pending: MetricSample[] = [];
  private lastFlush = Number.NEGATIVE_INFINITY;
  private busy = false;
  private readonly now: () => number;

  constructor(private readonly options: SamplerOptions) {
    this.hz = clampHz(options.hz ?? 1);
    this.capacity = options.capacity ?? 3600;
    this.exporter = options.exporter ?? new MetricsExporter();
    this.now = options.now ?? Date.now;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  get rateHz(): number {
    return this.hz;
  }

  status(): MetricsStatus {
    return { rateHz: this.hz, source: this.options.source?.kind ?? 'none', running: this.running, capacity: this.capacity };
  }

  async start(): Promise<void> {
    if (this.timer || !this.options.source) return;
    await this.options.source.start?.(1000 / this.hz);
    this.timer = setInterval(() => void this.tick(), 1000 / this.hz);
    this.timer.unref();
  }

  async setRate(hz: number): Promise<MetricsStatus> {
    this.hz = clampHz(hz);
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      await this.start();
    }
    return this.status();
  }

  /** One sample now (the timer calls it; tests and benchmarks may too). */
  async tick(): Promise<void> {
    if (this.busy || !this.options.source) return; // a slow source never piles up reads
    this.busy = true;
    try {
      const readings = await this.options.source.read();
      this.record(this.now(), readings);
    } catch {
      // A failed read is a gap in the chart, not a crash.
    } finally {
      this.busy = false;
    }
  }

  record(t: number, readings: GpuReading[]): void {
    for (const r of readings) {
      let s = this.series.get(r.address);
      if (!s) {
        s = { name: r.name, buffers: new Map() };
        this.series.set(r.address, s);
      }
      if (r.name) s.name = r.name;
      // Every key gets a point each tick (null where unsaid), so all series of a GPU share one time axis.
      for (const key of METRIC_KEYS) {
        const v = r.values[key] ?? null;
        let b = s.buffers.get(key);
        if (!b) {
          b = new RingBuffer(this.capacity);
          s.buffers.set(key, b);
        }
        b.push(t, v);
      }
      this.pending.push({ t, address: r.address, values: r.values });
    }
    this.exporter.update(readings);
    // Bound the queue too: a batch holds at most one ring's worth per GPU.
    const maxPending = this.capacity * Math.max(1, this.series.size);
    if (this.pending.length > maxPending) this.pending.splice(0, this.pending.length - maxPending);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.pending.length === 0) return;
    const wait = this.lastFlush + MIN_BATCH_INTERVAL_MS - this.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, wait);
    this.flushTimer.unref();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.lastFlush = this.now();
    this.options.onBatch?.(batch);
  }

  history(address?: string, seconds?: number): MetricsSeries[] {
    const since = seconds === undefined ? Number.NEGATIVE_INFINITY : this.now() - seconds * 1000;
    const out: MetricsSeries[] = [];
    for (const [addr, s] of this.series) {
      if (address !== undefined && addr !== address) continue;
      let t: number[] = [];
      const values: MetricsSeries['values'] = {};
      for (const [key, b] of s.buffers) {
        const a = b.toArrays(since);
        t = a.t;
        // A series the GPU never reported is left out rather than sent as a column of nulls.
        if (a.v.some((v) => v !== null)) values[key] = a.v;
      }
      out.push({ address: addr, name: s.name, t, values });
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.timer = null;
    this.flushTimer = null;
    this.flush(); // deliver what is queued
    await this.options.source?.close();
  }
}

function clampHz(hz: number): number {
  if (!Number.isFinite(hz)) return 1;
  return Math.min(MAX_HZ, Math.max(MIN_HZ, hz));
}
