import { which } from '../exec/which';
import type { HandlerGroup } from '../rpc/handlers';
import type { MetricsSampler } from './sampler';
import { NvidiaSmiStreamSource, type MetricsSource } from './sources';

/** The live source for this host: nvidia-smi's stream where it exists, else none. */
export function detectMetricsSource(pathEnv = process.env.PATH): MetricsSource | null {
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
