import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsSampler } from '../../../src/core/metrics/sampler';
import { NvidiaSmiStreamSource, type GpuReading, type MetricsSource } from '../../../src/core/metrics/sources';
import type { MetricSample } from '../../../src/shared/contract/metrics';
import { MetricsBatch } from '../../../src/shared/contract/metrics';

const repo = resolve(__dirname, '../../..');

function fakeSource(gpus: number): MetricsSource & { reads: number } {
  const src = {
    kind: 'custom' as const,
    reads: 0,
    read(): GpuReading[] {
      src.reads += 1;
      return Array.from({ length: gpus }, (_, i) => ({
        address: `0000:0${i + 1}:00.0`,
        name: `GPU ${i}`,
        values: { gpuUtilPercent: src.reads % 100, temperatureC: 40 + i, powerW: i === 0 ? null : 100, memoryUsedBytes: 1024 },
      }));
    },
    close() {},
  };
  return src;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MetricsSampler', () => {
  it('one timer for all GPUs; at 10 Hz with 8 GPUs at most 4 batches a second, nothing lost', async () => {
    vi.useFakeTimers();
    const batches: MetricSample[][] = [];
    const at: number[] = [];
    const source = fakeSource(8);
    const s = new MetricsSampler({ source, hz: 10, onBatch: (b) => { batches.push(b); at.push(Date.now()); } });
    await s.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await s.stop();
    expect(source.reads).toBe(100);
    expect(batches.length).toBeLessThanOrEqual(41);
    expect(batches.length).toBeGreaterThanOrEqual(38);
    const all = batches.flat();
    expect(all).toHaveLength(800);
    for (const b of batches) expect(() => MetricsBatch.parse({ samples: b })).not.toThrow();
    // No two batches within 250 ms (the last one is the flush at stop).
    for (let i = 1; i < at.length - 1; i += 1) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it('at 1 Hz a batch per sample; rate clamps to 0.2–10 Hz', async () => {
    vi.useFakeTimers();
    const batches: MetricSample[][] = [];
    const s = new MetricsSampler({ source: fakeSource(2), onBatch: (b) => batches.push(b) });
    await s.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2, 2, 2]);
    expect((await s.setRate(50)).rateHz).toBe(10);
    expect((await s.setRate(0.01)).rateHz).toBe(0.2);
    await s.stop();
  });

  it('ring buffers bound memory; history shares one time axis and keeps nulls', async () => {
    let t = 0;
    const s = new MetricsSampler({ source: fakeSource(2), capacity: 60, now: () => t });
    for (let i = 0; i < 200; i += 1) {
      t = i * 1000;
      await s.tick();
    }
    const h = s.history();
    expect(h.map((x) => x.address)).toEqual(['0000:01:00.0', '0000:02:00.0']);
    expect(h[0]?.t).toHaveLength(60);
    expect(h[0]?.t[0]).toBe(140_000);
    expect(h[0]?.values.temperatureC?.every((v) => v === 40)).toBe(true);
    expect(h[0]?.values.powerW).toBeUndefined(); // never reported by GPU 0
    expect(h[1]?.values.powerW?.[0]).toBe(100);
    expect(s.history('0000:02:00.0', 10)[0]?.t).toHaveLength(11);
    expect(s.history('0000:09:00.0')).toEqual([]);
  });

  it('exports Prometheus text with address and name labels, scaled to base units, N/A left out', async () => {
    const s = new MetricsSampler({ source: fakeSource(2) });
    await s.tick();
    const text = await s.exporter.render();
    expect(text).toContain('# TYPE gpu_bridge_gpu_temperature_celsius gauge');
    expect(text).toContain('gpu_bridge_gpu_temperature_celsius{address="0000:01:00.0",name="GPU 0"} 40');
    expect(text).toContain('gpu_bridge_gpu_utilization_ratio{address="0000:02:00.0",name="GPU 1"} 0.01');
    expect(text).toContain('gpu_bridge_gpu_power_watts{address="0000:02:00.0",name="GPU 1"} 100');
    expect(text).not.toContain('gpu_bridge_gpu_power_watts{address="0000:01:00.0"');
  });

  it('without a source it reports none and never runs', async () => {
    const s = new MetricsSampler({ source: null });
    await s.start();
    expect(s.status()).toEqual({ rateHz: 1, source: 'none', running: false, capacity: 3600 });
  });
});

describe('NvidiaSmiStreamSource over a stand-in nvidia-smi (real process, real capture data)', () => {
  it('one long-running process streams rows for 8 GPUs; no process per tick', async () => {
    process.env.FAKE_SMI_CAPTURE = join(repo, 'tests/fixtures/nvidia-smi-captures/linux-x86_64__nvidia-l40s__595.80.txt');
    process.env.FAKE_SMI_CSV = join(repo, 'tests/fixtures/nvidia-smi-csv/utkuozdemir__linux-x86_64__nvidia-l40s__595.80.load-query-gpu.csv');
    process.env.FAKE_SMI_GPUS = '8';
    const source = new NvidiaSmiStreamSource(join(repo, 'bench/sampler-fake-nvidia-smi.mjs'));
    try {
      await source.start(100);
      let readings: GpuReading[] = [];
      for (let i = 0; i < 100 && readings.length < 8; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        readings = source.read();
      }
      expect(readings).toHaveLength(8);
      expect(readings[0]).toEqual({
        address: '0000:01:00.0',
        name: 'NVIDIA L40S',
        values: expect.objectContaining({ encoderUtilPercent: 60, encoderSessions: 2, temperatureC: 54, powerW: 110.23, memoryUsedBytes: 1235 * 1024 ** 2 }),
      });
    } finally {
      source.close();
      delete process.env.FAKE_SMI_CAPTURE;
      delete process.env.FAKE_SMI_CSV;
      delete process.env.FAKE_SMI_GPUS;
    }
  });
});
