import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsExporter } from '../../../src/core/metrics/prometheus';
import { METRIC_KEYS, type MetricValues } from '../../../src/shared/contract/metrics';

const RESOURCES = join(__dirname, '..', '..', '..', 'resources');

/** Every metric name the exporter can emit: one of everything fed in, then the exposition's HELP lines. */
async function emittedNames(): Promise<Set<string>> {
  const exporter = new MetricsExporter();
  const values = Object.fromEntries(METRIC_KEYS.map((key) => [key, 1])) as MetricValues;
  exporter.update([{ address: '0000:01:00.0', name: 'GPU', values }]);
  exporter.setEncoderSessionLimits([{ address: '0000:01:00.0', name: 'GPU', limit: 8 }]);
  exporter.sessions.update({
    sessionId: 's', t: 0, viewer: 'v', p50Ms: 1, p95Ms: 2, fpsSent: 60, fpsReceived: 60, bitrateKbps: 1, targetKbps: 1, rttMs: 1, dropped: 0, duplicated: 0, unreadable: 0,
    packetsLost: 1, fecRecovered: 1, nackRecovered: 1, framesLost: 1, keyframeRequests: 1, cleanPictureMs: 1,
  });
  const text = await exporter.render();
  return new Set([...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]!));
}

/** gpu_bridge_* names in PromQL (recording rules' own names, with a colon, are not metrics we emit). */
function metricNames(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b(gpu_bridge_[a-z_]+)\b/g)].map((m) => m[1]!)));
}

describe('monitoring resources: every metric they use is one the exporter really emits', () => {
  it('resources/grafana/gpu-bridge.json: importable as it is, a host and GPU selector, every panel\'s metrics emitted', async () => {
    const dashboard = JSON.parse(readFileSync(join(RESOURCES, 'grafana', 'gpu-bridge.json'), 'utf8')) as {
      __inputs: Array<{ name: string; pluginId: string }>;
      templating: { list: Array<{ name: string }> };
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }>; repeat?: string }>;
    };
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['instance', 'gpu']);
    expect(dashboard.panels.some((p) => p.type === 'row' && p.repeat === 'instance')).toBe(true);
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    const used = metricNames(exprs);
    const emitted = await emittedNames();
    expect([...used].filter((name) => !emitted.has(name))).toEqual([]);
    // the dashboard shows what the issue asks: GPUs, sessions' latency, fps, bitrate against target, frames lost
    for (const name of ['gpu_bridge_gpu_utilization_ratio', 'gpu_bridge_gpu_memory_used_bytes', 'gpu_bridge_gpu_temperature_celsius', 'gpu_bridge_gpu_power_watts', 'gpu_bridge_gpu_encoder_utilization_ratio', 'gpu_bridge_session_latency_seconds', 'gpu_bridge_session_fps_received', 'gpu_bridge_session_target_bitrate_bits_per_second', 'gpu_bridge_session_frames_lost_total']) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it('resources/prometheus/gpu-bridge.rules.yml uses only emitted metrics', async () => {
    const rules = readFileSync(join(RESOURCES, 'prometheus', 'gpu-bridge.rules.yml'), 'utf8');
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const emitted = await emittedNames();
    expect([...metricNames(exprs)].filter((name) => !emitted.has(name))).toEqual([]);
  });
});
