import { which } from '../exec/which';
import { NvmlSource } from '../nvml/source';
import type { HandlerGroup } from '../rpc/handlers';
import type { MetricsSampler } from './sampler';
import { NvidiaSmiStreamSource, type MetricsSource } from './sources';

/** The live source for this host: NVML in-process, else one nvidia-smi stream, else none. */
export function detectMetricsSource(pathEnv = process.env.PATH): MetricsSource | null {
  const nvml = NvmlSource.open();
  if (nvml) return nvml;
  const smi = which('nvidia-smi', pathEnv);
  return smi ? new NvidiaSmiStreamSource(smi) : null;
}

export function metricsHandlers(sampler: MetricsSampler): HandlerGroup<'metrics.status' | 'metrics.history' | 'metrics.setRate'> {
  return {
    'metrics.status': () => sampler.status(),
    'metrics.history': (params) => ({ series: sampler.history(params?.address, params?.seconds) }),
    'metrics.setRate': (params) => sampler.setRate(params.hz),
  };
}
