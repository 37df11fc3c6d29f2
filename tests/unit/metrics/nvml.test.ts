import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nvml } from '../../../src/core/nvml/nvml';

const stubSource = resolve(__dirname, '../../fixtures/nvml-stub/nvml_stub.c');
let dir: string;
let lib: string | null = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gb-nvml-'));
  try {
    lib = join(dir, 'libnvidia-ml.so.1');
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', lib, stubSource], { stdio: 'pipe' });
  } catch (error) {
    lib = null;
    console.log(`nvml test: SKIPPED, cannot compile the NVML stub with gcc: ${(error as Error).message}`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('NVML through koffi against a compiled stub', () => {
  it('reads both GPUs and their samples', (ctx) => {
    if (!lib) return ctx.skip();
    const nvml = Nvml.open(lib);
    expect(nvml).not.toBeNull();
    if (!nvml) return;
    try {
      expect(nvml.count).toBe(2);
      expect(nvml.driverVersion()).toBe('595.80');
      expect(nvml.cudaVersion()).toBe('13.2');
      expect(nvml.gpu(0)).toEqual({
        index: 0, address: '0000:01:00.0', name: 'NVIDIA L40S', uuid: 'GPU-11111111-2222-3333-4444-555555555555', deviceId: '26b9', subsystemId: '1851',
        memoryTotalBytes: 46068 * 1024 ** 2, memoryUsedBytes: 1235 * 1024 ** 2, temperatureC: 54, powerLimitW: 350, migMode: null, virtualizationMode: 'None', encoderSessions: 2,
      });
      expect(nvml.gpu(1)).toMatchObject({ address: '0000:41:00.0', name: 'NVIDIA A100-SXM4-80GB', deviceId: '20b2', migMode: 'Enabled', memoryTotalBytes: 80 * 1024 ** 3 });
      expect(nvml.migDevices(0)).toEqual([]); // the L40S has no MIG
      expect(nvml.migDevices(1)).toEqual([
        { index: 0, gpuInstanceId: 1, computeInstanceId: 0, memoryTotalBytes: 40192 * 1024 ** 2, memoryUsedBytes: 37 * 1024 ** 2, multiprocessorCount: 42 },
        { index: 1, gpuInstanceId: 5, computeInstanceId: 0, memoryTotalBytes: 19968 * 1024 ** 2, memoryUsedBytes: 13 * 1024 ** 2, multiprocessorCount: 28 },
      ]);
      const a = nvml.sample(0);
      expect(a).toMatchObject({ memoryUtilPercent: 2, encoderUtilPercent: 60, decoderUtilPercent: 0, temperatureC: 54, powerW: 110.23, powerLimitW: 350, graphicsClockMHz: 2520, memoryClockMHz: 9001, fanPercent: 30, encoderSessions: 2 });
      const b = nvml.sample(0);
      expect(b.gpuUtilPercent).not.toBe(a.gpuUtilPercent); // the stub's counter moved: a real call each time
      expect(nvml.sample(1)).toMatchObject({ encoderUtilPercent: null, fanPercent: null, gpuUtilPercent: 100 });
    } finally {
      nvml.close();
    }
  });

  it('one user closing NVML leaves another user\'s session working (init/shutdown are reference-counted)', (ctx) => {
    if (!lib) return ctx.skip();
    const sampler = Nvml.open(lib);
    const inventory = Nvml.open(lib);
    expect(sampler && inventory).toBeTruthy();
    inventory?.close();
    try {
      expect(sampler?.sample(0)).toMatchObject({ temperatureC: 54, powerW: 110.23, memoryUsedBytes: 1235 * 1024 ** 2 });
    } finally {
      sampler?.close();
    }
  });

  it('returns null where the library is missing', () => {
    expect(Nvml.open(join(dir, 'nope.so'))).toBeNull();
  });
});

describe('NVML feeding the sampler and the inventory', () => {
  it('the sampler reads the stub once per tick, with no process spawned', async (ctx) => {
    if (!lib) return ctx.skip();
    const { NvmlSource } = await import('../../../src/core/nvml/source');
    const { MetricsSampler } = await import('../../../src/core/metrics/sampler');
    const source = NvmlSource.open(lib);
    expect(source).not.toBeNull();
    let t = 0;
    const s = new MetricsSampler({ source, now: () => (t += 1000) });
    for (let i = 0; i < 5; i += 1) await s.tick();
    const h = s.history();
    expect(h.map((x) => [x.address, x.name, x.t.length])).toEqual([['0000:01:00.0', 'NVIDIA L40S', 5], ['0000:41:00.0', 'NVIDIA A100-SXM4-80GB', 5]]);
    expect(h[0]?.values.temperatureC).toEqual([54, 54, 54, 54, 54]);
    expect(new Set(h[0]?.values.gpuUtilPercent).size).toBe(5);
    expect(h[1]?.values.encoderUtilPercent).toBeUndefined();
    expect(await s.exporter.render()).toContain('gpu_bridge_gpu_power_watts{address="0000:01:00.0",name="NVIDIA L40S"} 110.23');
    await s.stop();
  });

  it('a live inventory takes names, memory and details from NVML, encoders from the chip table', async (ctx) => {
    if (!lib) return ctx.skip();
    const { buildFakeSysfs } = await import('../../helpers/fake-sysfs');
    const { buildInventory } = await import('../../../src/core/inventory/inventory');
    const root = join(dir, 'root');
    await buildFakeSysfs(root, {
      devices: [
        { address: '0000:01:00.0', vendor: '10de', device: '26b9', class: '030200', driver: 'nvidia', iommuGroup: 12 },
        { address: '0000:41:00.0', vendor: '10de', device: '20b2', class: '030200', driver: 'nvidia', iommuGroup: 40 },
      ],
    });
    const inv = await buildInventory({ root, live: true, nvmlLibrary: lib });
    expect(inv.gpus.map((g) => [g.address, g.name, g.memoryTotalBytes, g.encoders.av1, g.encoders.h264, g.nvidia?.source, g.nvidia?.driverVersion])).toEqual([
      ['0000:01:00.0', 'NVIDIA L40S', 46068 * 1024 ** 2, true, true, 'nvml', '595.80'],
      ['0000:41:00.0', 'NVIDIA A100-SXM4-80GB', 80 * 1024 ** 3, false, false, 'nvml', '595.80'],
    ]);
    expect(inv.gpus[0]?.encoderSessionLimit).toBe('unlimited');
    expect(inv.gpus[1]?.nvidia?.migMode).toBe('Enabled');
    expect(inv.gpus[1]?.nvidia?.migDevices.map((d) => [d.index, d.gpuInstanceId, d.computeInstanceId, d.multiprocessorCount])).toEqual([[0, 1, 0, 42], [1, 5, 0, 28]]);
    expect(inv.gpus[0]?.nvidia?.migDevices).toEqual([]);
    expect(inv.gpus[0]?.nvidia?.cudaVersion).toBe('13.2');
  });
});
