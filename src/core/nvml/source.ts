import type { GpuReading, MetricsSource } from '../metrics/sources';
import { Nvml } from './nvml';

/** Samples every GPU through NVML in-process: a handful of FFI calls per GPU per tick, no process. */
export class NvmlSource implements MetricsSource {
  readonly kind = 'nvml' as const;
  private readonly ids: Array<{ address: string; name: string | null }>;

  constructor(private readonly nvml: Nvml) {
    this.ids = Array.from({ length: nvml.count }, (_, i) => {
      const g = nvml.gpu(i);
      return { address: g.address ?? `nvml:${i}`, name: g.name };
    });
  }

  static open(path?: string): NvmlSource | null {
    const nvml = Nvml.open(path);
    return nvml ? new NvmlSource(nvml) : null;
  }

  read(): GpuReading[] {
    return this.ids.map((id, i) => ({ address: id.address, name: id.name, values: this.nvml.sample(i) }));
  }

  close(): void {
    this.nvml.close();
  }
}
