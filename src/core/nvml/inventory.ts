import type { NvidiaSmiGpu, NvidiaSmiLog } from '../inventory/nvidia-smi-xml';
import type { Nvml } from './nvml';

/** NVML's view in the same shape as the parsed nvidia-smi XML, so the inventory merges either. */
export function nvmlLog(nvml: Nvml): NvidiaSmiLog & { source: 'nvml' } {
  const gpus: NvidiaSmiGpu[] = [];
  for (let i = 0; i < nvml.count; i += 1) {
    const g = nvml.gpu(i);
    if (!g.address) continue;
    const s = nvml.sample(i);
    gpus.push({
      address: g.address,
      name: g.name,
      brand: null,
      architecture: null,
      uuid: g.uuid,
      vbiosVersion: null,
      deviceId: g.deviceId,
      vendorId: '10de',
      subsystemVendorId: null,
      subsystemDeviceId: g.subsystemId,
      virtualizationMode: g.virtualizationMode,
      migMode: g.migMode,
      migDevices: nvml.migDevices(i),
      memoryTotalBytes: g.memoryTotalBytes,
      memoryUsedBytes: g.memoryUsedBytes,
      temperatureC: g.temperatureC,
      powerDrawW: s.powerW ?? null,
      powerLimitW: g.powerLimitW,
      fanPercent: s.fanPercent ?? null,
      utilization: { gpu: s.gpuUtilPercent ?? null, memory: s.memoryUtilPercent ?? null, encoder: s.encoderUtilPercent ?? null, decoder: s.decoderUtilPercent ?? null },
      clocksMHz: { graphics: s.graphicsClockMHz ?? null, sm: null, memory: s.memoryClockMHz ?? null, video: null },
      encoderSessions: g.encoderSessions,
      pcie: { currentGen: null, maxGen: null, currentWidth: null, maxWidth: null },
    });
  }
  return { dtdVersion: null, driverVersion: nvml.driverVersion(), cudaVersion: nvml.cudaVersion(), gpus, source: 'nvml' };
}
