import { createRequire } from 'node:module';
import type { MigDevice } from '../../shared/contract/inventory';
import type { MetricValues } from '../../shared/contract/metrics';

/** Everything GPU Bridge reads from NVML about one GPU; null where NVML says "not supported" or fails. */
export interface NvmlGpu {
  index: number;
  address: string | null;
  name: string | null;
  uuid: string | null;
  deviceId: string | null;
  subsystemId: string | null;
  memoryTotalBytes: number | null;
  memoryUsedBytes: number | null;
  temperatureC: number | null;
  powerLimitW: number | null;
  migMode: 'Enabled' | 'Disabled' | null;
  virtualizationMode: string | null;
  encoderSessions: number | null;
}

const VIRT_MODES = ['None', 'Pass-Through', 'VGPU', 'Host VGPU', 'Host VSGA'];

type Fn = (...args: unknown[]) => number;
interface Koffi {
  load(path: string): { func(signature: string): Fn };
  struct(name: string, def: Record<string, string | unknown>): unknown;
  array(type: string, len: number): unknown;
}

let structsDefined = false;

/**
 * NVML loaded in-process through koffi (FFI): no process is spawned per sample. `open()` returns null
 * when the library cannot be loaded or initialised (no driver): callers fall back to nvidia-smi.
 */
export class Nvml {
  private constructor(
    private readonly f: Record<string, Fn>,
    private readonly handles: unknown[],
  ) {}

  /** The library: GPU_BRIDGE_NVML_LIB (tests, unusual installs) or libnvidia-ml.so.1. */
  static open(path = process.env.GPU_BRIDGE_NVML_LIB ?? 'libnvidia-ml.so.1'): Nvml | null {
    let koffi: Koffi;
    try {
      koffi = createRequire(import.meta.url)('koffi') as Koffi;
    } catch {
      return null;
    }
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(path);
    } catch {
      return null;
    }
    if (!structsDefined) {
      koffi.struct('gb_nvmlMemory_t', { total: 'unsigned long long', free: 'unsigned long long', used: 'unsigned long long' });
      koffi.struct('gb_nvmlUtilization_t', { gpu: 'unsigned int', memory: 'unsigned int' });
      koffi.struct('gb_nvmlPciInfo_t', {
        busIdLegacy: koffi.array('char', 16),
        domain: 'unsigned int',
        bus: 'unsigned int',
        device: 'unsigned int',
        pciDeviceId: 'unsigned int',
        pciSubSystemId: 'unsigned int',
        busId: koffi.array('char', 32),
      });
      koffi.struct('gb_nvmlDeviceAttributes_t', {
        multiprocessorCount: 'unsigned int',
        sharedCopyEngineCount: 'unsigned int',
        sharedDecoderCount: 'unsigned int',
        sharedEncoderCount: 'unsigned int',
        sharedJpegCount: 'unsigned int',
        sharedOfaCount: 'unsigned int',
        gpuInstanceSliceCount: 'unsigned int',
        computeInstanceSliceCount: 'unsigned int',
        memorySizeMB: 'unsigned long long',
      });
      structsDefined = true;
    }
    const sigs: Record<string, string> = {
      init: 'int nvmlInit_v2()',
      shutdown: 'int nvmlShutdown()',
      driverVersion: 'int nvmlSystemGetDriverVersion(_Out_ uint8_t *buf, unsigned int len)',
      cudaVersion: 'int nvmlSystemGetCudaDriverVersion(_Out_ int *v)',
      count: 'int nvmlDeviceGetCount_v2(_Out_ unsigned int *n)',
      handle: 'int nvmlDeviceGetHandleByIndex_v2(unsigned int i, _Out_ void **dev)',
      name: 'int nvmlDeviceGetName(void *dev, _Out_ uint8_t *buf, unsigned int len)',
      uuid: 'int nvmlDeviceGetUUID(void *dev, _Out_ uint8_t *buf, unsigned int len)',
      pci: 'int nvmlDeviceGetPciInfo_v3(void *dev, _Out_ gb_nvmlPciInfo_t *p)',
      memory: 'int nvmlDeviceGetMemoryInfo(void *dev, _Out_ gb_nvmlMemory_t *m)',
      util: 'int nvmlDeviceGetUtilizationRates(void *dev, _Out_ gb_nvmlUtilization_t *u)',
      encUtil: 'int nvmlDeviceGetEncoderUtilization(void *dev, _Out_ unsigned int *u, _Out_ unsigned int *p)',
      decUtil: 'int nvmlDeviceGetDecoderUtilization(void *dev, _Out_ unsigned int *u, _Out_ unsigned int *p)',
      temp: 'int nvmlDeviceGetTemperature(void *dev, int sensor, _Out_ unsigned int *t)',
      power: 'int nvmlDeviceGetPowerUsage(void *dev, _Out_ unsigned int *mw)',
      powerLimit: 'int nvmlDeviceGetEnforcedPowerLimit(void *dev, _Out_ unsigned int *mw)',
      clock: 'int nvmlDeviceGetClockInfo(void *dev, int type, _Out_ unsigned int *mhz)',
      fan: 'int nvmlDeviceGetFanSpeed(void *dev, _Out_ unsigned int *pct)',
      encStats: 'int nvmlDeviceGetEncoderStats(void *dev, _Out_ unsigned int *n, _Out_ unsigned int *fps, _Out_ unsigned int *lat)',
      mig: 'int nvmlDeviceGetMigMode(void *dev, _Out_ unsigned int *cur, _Out_ unsigned int *pending)',
      virt: 'int nvmlDeviceGetVirtualizationMode(void *dev, _Out_ int *mode)',
      migMax: 'int nvmlDeviceGetMaxMigDeviceCount(void *dev, _Out_ unsigned int *n)',
      migHandle: 'int nvmlDeviceGetMigDeviceHandleByIndex(void *dev, unsigned int i, _Out_ void **mig)',
      gpuInstanceId: 'int nvmlDeviceGetGpuInstanceId(void *dev, _Out_ unsigned int *id)',
      computeInstanceId: 'int nvmlDeviceGetComputeInstanceId(void *dev, _Out_ unsigned int *id)',
      attributes: 'int nvmlDeviceGetAttributes_v2(void *dev, _Out_ gb_nvmlDeviceAttributes_t *a)',
    };
    const f: Record<string, Fn> = {};
    for (const [key, sig] of Object.entries(sigs)) {
      try {
        f[key] = lib.func(sig);
      } catch {
        // An older driver lacks a symbol: that reading becomes null.
      }
    }
    if (!f.init || !f.count || !f.handle || f.init() !== 0) return null;
    const n = [0];
    if (f.count(n) !== 0) return null;
    const handles: unknown[] = [];
    for (let i = 0; i < (n[0] ?? 0); i += 1) {
      const h = [null];
      if (f.handle(i, h) === 0) handles.push(h[0]);
    }
    return new Nvml(f, handles);
  }

  get count(): number {
    return this.handles.length;
  }

  private call(name: string, ...args: unknown[]): boolean {
    const fn = this.f[name];
    if (!fn) return false;
    try {
      return fn(...args) === 0;
    } catch {
      return false;
    }
  }

  private str(name: string, dev: unknown | undefined, len = 96): string | null {
    const buf = Buffer.alloc(len);
    const ok = dev === undefined ? this.call(name, buf, len) : this.call(name, dev, buf, len);
    if (!ok) return null;
    const end = buf.indexOf(0);
    return buf.subarray(0, end < 0 ? len : end).toString('utf8') || null;
  }

  private uint(name: string, dev: unknown, ...pre: unknown[]): number | null {
    const out = [0];
    return this.call(name, dev, ...pre, out) ? (out[0] ?? null) : null;
  }

  driverVersion(): string | null {
    return this.str('driverVersion', undefined, 80);
  }

  /** '13.2' from 13020. */
  cudaVersion(): string | null {
    const v = [0];
    if (!this.call('cudaVersion', v)) return null;
    const n = v[0] ?? 0;
    return `${Math.floor(n / 1000)}.${Math.floor((n % 1000) / 10)}`;
  }

  address(i: number): string | null {
    const p: Record<string, unknown> = {};
    if (!this.call('pci', this.handles[i], p)) return null;
    const busId = String(p.busId ?? '');
    const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(busId);
    return m?.[1] ? `${m[1].slice(-4)}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase() : null;
  }

  gpu(i: number): NvmlGpu {
    const dev = this.handles[i];
    const p: Record<string, number> = {};
    const hasPci = this.call('pci', dev, p);
    const hex = (v: number | undefined) => (v === undefined ? null : (v >>> 16).toString(16).padStart(4, '0'));
    const mem: Record<string, number> = {};
    const hasMem = this.call('memory', dev, mem);
    const cur = [0];
    const pending = [0];
    const mig = this.call('mig', dev, cur, pending) ? (cur[0] === 1 ? 'Enabled' : 'Disabled') : null;
    const virt = [0];
    const stats = [0];
    const limit = this.uint('powerLimit', dev);
    return {
      index: i,
      address: this.address(i),
      name: this.str('name', dev),
      uuid: this.str('uuid', dev),
      deviceId: hasPci ? hex(p.pciDeviceId) : null,
      subsystemId: hasPci ? hex(p.pciSubSystemId) : null,
      memoryTotalBytes: hasMem ? Number(mem.total) : null,
      memoryUsedBytes: hasMem ? Number(mem.used) : null,
      temperatureC: this.uint('temp', dev, 0),
      powerLimitW: limit === null ? null : limit / 1000,
      migMode: mig,
      virtualizationMode: this.call('virt', dev, virt) ? (VIRT_MODES[virt[0] ?? 0] ?? null) : null,
      encoderSessions: this.call('encStats', dev, stats, [0], [0]) ? (stats[0] ?? null) : null,
    };
  }

  /** One sample for every GPU: a few in-process calls, no allocation beyond small objects. */
  sample(i: number): MetricValues {
    const dev = this.handles[i];
    const util: Record<string, number> = {};
    const hasUtil = this.call('util', dev, util);
    const mem: Record<string, number> = {};
    const hasMem = this.call('memory', dev, mem);
    const enc = [0];
    const dec = [0];
    const stats = [0];
    const power = this.uint('power', dev);
    const limit = this.uint('powerLimit', dev);
    return {
      gpuUtilPercent: hasUtil ? (util.gpu ?? null) : null,
      memoryUtilPercent: hasUtil ? (util.memory ?? null) : null,
      encoderUtilPercent: this.call('encUtil', dev, enc, [0]) ? (enc[0] ?? null) : null,
      decoderUtilPercent: this.call('decUtil', dev, dec, [0]) ? (dec[0] ?? null) : null,
      memoryUsedBytes: hasMem ? Number(mem.used) : null,
      memoryTotalBytes: hasMem ? Number(mem.total) : null,
      temperatureC: this.uint('temp', dev, 0),
      powerW: power === null ? null : power / 1000,
      powerLimitW: limit === null ? null : limit / 1000,
      graphicsClockMHz: this.uint('clock', dev, 0),
      memoryClockMHz: this.uint('clock', dev, 2),
      fanPercent: this.uint('fan', dev),
      encoderSessions: this.call('encStats', dev, stats, [0], [0]) ? (stats[0] ?? null) : null,
    };
  }

  /**
   * The MIG devices of GPU i, by NVML's MIG device index; [] where MIG is off or not supported, or the
   * driver lacks these calls. Inventory only: a few calls per MIG device, never per sample.
   */
  migDevices(i: number): MigDevice[] {
    const dev = this.handles[i];
    const max = this.uint('migMax', dev);
    if (!max) return [];
    const devices: MigDevice[] = [];
    for (let k = 0; k < Math.min(max, 64); k += 1) {
      const handle = [null];
      if (!this.call('migHandle', dev, k, handle) || !handle[0]) continue; // NOT_FOUND: an empty slot
      const mig = handle[0];
      const mem: Record<string, number> = {};
      const hasMem = this.call('memory', mig, mem);
      const attributes: Record<string, number> = {};
      const hasAttributes = this.call('attributes', mig, attributes);
      devices.push({
        index: k,
        gpuInstanceId: this.uint('gpuInstanceId', mig),
        computeInstanceId: this.uint('computeInstanceId', mig),
        memoryTotalBytes: hasMem ? Number(mem.total) : null,
        memoryUsedBytes: hasMem ? Number(mem.used) : null,
        multiprocessorCount: hasAttributes ? (attributes.multiprocessorCount ?? null) : null,
      });
    }
    return devices;
  }

  close(): void {
    this.call('shutdown');
  }
}
