import { Gauge, Registry } from 'prom-client';
import type { MetricKey } from '../../shared/contract/metrics';
import { SessionSeries } from './session-series';
import type { GpuReading } from './sources';

const PROM: Record<MetricKey, { name: string; help: string; scale?: number }> = {
  gpuUtilPercent: { name: 'gpu_bridge_gpu_utilization_ratio', help: 'GPU utilization (0-1)', scale: 0.01 },
  memoryUtilPercent: { name: 'gpu_bridge_gpu_memory_utilization_ratio', help: 'Memory controller utilization (0-1)', scale: 0.01 },
  encoderUtilPercent: { name: 'gpu_bridge_gpu_encoder_utilization_ratio', help: 'Video encoder utilization (0-1)', scale: 0.01 },
  decoderUtilPercent: { name: 'gpu_bridge_gpu_decoder_utilization_ratio', help: 'Video decoder utilization (0-1)', scale: 0.01 },
  memoryUsedBytes: { name: 'gpu_bridge_gpu_memory_used_bytes', help: 'Frame buffer memory used' },
  memoryTotalBytes: { name: 'gpu_bridge_gpu_memory_total_bytes', help: 'Frame buffer memory total' },
  temperatureC: { name: 'gpu_bridge_gpu_temperature_celsius', help: 'GPU core temperature' },
  powerW: { name: 'gpu_bridge_gpu_power_watts', help: 'Board power draw' },
  powerLimitW: { name: 'gpu_bridge_gpu_power_limit_watts', help: 'Enforced power limit' },
  graphicsClockMHz: { name: 'gpu_bridge_gpu_graphics_clock_hertz', help: 'Graphics clock', scale: 1e6 },
  memoryClockMHz: { name: 'gpu_bridge_gpu_memory_clock_hertz', help: 'Memory clock', scale: 1e6 },
  fanPercent: { name: 'gpu_bridge_gpu_fan_speed_ratio', help: 'Fan speed (0-1)', scale: 0.01 },
  encoderSessions: { name: 'gpu_bridge_gpu_encoder_sessions', help: 'Active NVENC sessions' },
};

/**
 * A prom-client registry with one gauge per series, labelled by GPU address and name; and the streaming
 * sessions' series (`sessions`, labelled by session id and viewer), fed from `sessions.second` events.
 */
export class MetricsExporter {
  readonly registry = new Registry();
  readonly sessions = new SessionSeries(this.registry);
  private readonly gauges = new Map<MetricKey, Gauge<'address' | 'name'>>();
  /** From the inventory, not the sampler: how many NVENC sessions the driver allows (absent: no limit known). */
  private readonly sessionLimit: Gauge<'address' | 'name'>;

  constructor() {
    for (const [key, spec] of Object.entries(PROM) as Array<[MetricKey, (typeof PROM)[MetricKey]]>) {
      this.gauges.set(key, new Gauge({ name: spec.name, help: spec.help, labelNames: ['address', 'name'], registers: [this.registry] }));
    }
    this.sessionLimit = new Gauge({ name: 'gpu_bridge_gpu_encoder_session_limit', help: 'NVENC sessions the driver allows at once (absent where there is no limit)', labelNames: ['address', 'name'], registers: [this.registry] });
  }

  /** The GPUs' NVENC session limits, from the inventory (a limit of null is removed: none, or unknown). */
  setEncoderSessionLimits(gpus: Array<{ address: string; name: string | null; limit: number | null }>): void {
    for (const gpu of gpus) {
      const labels = { address: gpu.address, name: gpu.name ?? '' };
      if (gpu.limit === null) this.sessionLimit.remove(labels);
      else this.sessionLimit.set(labels, gpu.limit);
    }
  }

  update(readings: GpuReading[]): void {
    for (const r of readings) {
      const labels = { address: r.address, name: r.name ?? '' };
      for (const [key, value] of Object.entries(r.values) as Array<[MetricKey, number | null | undefined]>) {
        const gauge = this.gauges.get(key);
        if (!gauge) continue;
        // A value the GPU did not report is removed, not exported as 0.
        if (value === null || value === undefined) gauge.remove(labels);
        else gauge.set(labels, value * (PROM[key].scale ?? 1));
      }
    }
  }

  /** Prometheus text exposition format, for GET /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
