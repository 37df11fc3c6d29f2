import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCore } from '../../../src/core/core';

const dir = mkdtempSync(join(tmpdir(), 'gb-metrics-core-'));
const env = { PATH: '', GPU_BRIDGE_CONFIG_DIR: join(dir, 'config'), GPU_BRIDGE_STATE_DIR: join(dir, 'state'), GPU_BRIDGE_NVML_LIB: join(dir, 'none.so') };
const core = createCore({ shell: 'web', env, log: () => {} });
const ctx = { shell: 'web' as const, clientId: 't' };
afterAll(async () => {
  await core.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('inventory and metrics through the dispatcher', () => {
  it('inventory.get answers a contract-valid inventory of this machine', async () => {
    const reply = await core.dispatcher.handle({ id: 1, method: 'inventory.get' }, ctx);
    expect(reply).toHaveProperty('result.gpus');
    expect(reply).toHaveProperty('result.host.virtualization');
  });
  it('metrics.status without NVML or nvidia-smi says none; setRate validates 0.2–10 Hz; history is empty', async () => {
    expect(await core.dispatcher.handle({ id: 2, method: 'metrics.status' }, ctx)).toMatchObject({ result: { source: 'none', running: false, rateHz: 1, capacity: 3600 } });
    expect(await core.dispatcher.handle({ id: 3, method: 'metrics.setRate', params: { hz: 20 } }, ctx)).toHaveProperty('error.code');
    expect(await core.dispatcher.handle({ id: 4, method: 'metrics.setRate', params: { hz: 2 } }, ctx)).toMatchObject({ result: { rateHz: 2 } });
    expect(await core.dispatcher.handle({ id: 5, method: 'metrics.history', params: { seconds: 60 } }, ctx)).toEqual({ id: 5, result: { series: [] } });
  });
  it('samples recorded by the sampler reach clients as metrics.batch events and /metrics text', async () => {
    const got: unknown[] = [];
    const off = core.events.subscribe((m) => got.push(m));
    core.metrics.record(Date.now(), [{ address: '0000:01:00.0', name: 'NVIDIA L40S', values: { temperatureC: 54, gpuUtilPercent: 9 } }]);
    core.metrics.flush();
    off();
    expect(got).toEqual([{ event: 'metrics.batch', payload: { samples: [expect.objectContaining({ address: '0000:01:00.0', values: { temperatureC: 54, gpuUtilPercent: 9 } })] } }]);
    expect(await core.metrics.exporter.render()).toContain('gpu_bridge_gpu_temperature_celsius{address="0000:01:00.0",name="NVIDIA L40S"} 54');
  });
});
