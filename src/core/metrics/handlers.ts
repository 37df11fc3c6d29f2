import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isValidBdf } from '../inventory/pci';
import { which } from '../exec/which';
import { NvmlSource } from '../nvml/source';
import type { HandlerGroup } from '../rpc/handlers';
import type { MetricsSampler } from './sampler';
import { AmdSysfsSource, NvidiaSmiStreamSource, type MetricsSource } from './sources';

/** GPUs bound to amdgpu: the BDF entries of <root>/sys/bus/pci/drivers/amdgpu. */
export function amdgpuAddresses(root = '/'): string[] {
  try {
    return readdirSync(join(root, 'sys', 'bus', 'pci', 'drivers', 'amdgpu')).filter(isValidBdf).sort();
  } catch {
    return [];
  }
}

/** The live source for this host: NVML in-process, else one nvidia-smi stream, else amdgpu sysfs, else none. */
export function detectMetricsSource(pathEnv = process.env.PATH, root = '/'): MetricsSource | null {
  const nvml = NvmlSource.open();
  if (nvml) return nvml;
  const smi = which('nvidia-smi', pathEnv);
  if (smi) return new NvidiaSmiStreamSource(smi);
  const amd = amdgpuAddresses(root);
  return amd.length > 0 ? new AmdSysfsSource(amd, root) : null;
}

export function metricsHandlers(sampler: MetricsSampler): HandlerGroup<'metrics.status' | 'metrics.history' | 'metrics.setRate'> {
  return {
    'metrics.status': () => sampler.status(),
    'metrics.history': (params) => ({ series: sampler.history(params?.address, params?.seconds) }),
    'metrics.setRate': (params) => sampler.setRate(params.hz),
  };
}
