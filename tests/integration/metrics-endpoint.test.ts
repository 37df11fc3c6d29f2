import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startMetricsEndpoint, type MetricsEndpoint } from '../../src/core/metrics/metrics-endpoint';
import { readMetricsEndpointConfig, startConfiguredMetricsEndpoint } from '../../src/core/metrics/metrics-endpoint-config';
import { MetricsExporter } from '../../src/core/metrics/prometheus';

// The desktop app's local /metrics port: a real HTTP server on 127.0.0.1, real requests.

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const exporter = new MetricsExporter();
exporter.update([{ address: '0000:01:00.0', name: 'NVIDIA L40S', values: { powerW: 110.23, gpuUtilPercent: 42, fanPercent: null } }]);
const TOKEN = 'a-long-enough-test-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'gb-metrics-endpoint-'));
let endpoint: MetricsEndpoint | null = null;
afterEach(async () => {
  await endpoint?.close();
  endpoint = null;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local metrics endpoint (core, no Electron)', () => {
  it('serves every series with address and name labels on 127.0.0.1 only', async () => {
    endpoint = await startMetricsEndpoint({ exporter, port: 0 });
    expect(endpoint.url).toBe(`http://127.0.0.1:${endpoint.port}/metrics`);
    const res = await get(endpoint.port, '/metrics');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/plain');
    expect(res.body).toContain('gpu_bridge_gpu_power_watts{address="0000:01:00.0",name="NVIDIA L40S"} 110.23');
    expect(res.body).toContain('gpu_bridge_gpu_utilization_ratio{address="0000:01:00.0",name="NVIDIA L40S"} 0.42');
    expect(res.body).not.toMatch(/gpu_bridge_gpu_fan_speed_ratio\{/); // not reported: absent, not 0
    expect((await get(endpoint.port, '/metrics', {}, 'HEAD')).status).toBe(200);
  });

  it('answers nothing but GET /metrics, and refuses a foreign Host (DNS rebinding)', async () => {
    endpoint = await startMetricsEndpoint({ exporter, port: 0 });
    expect((await get(endpoint.port, '/')).status).toBe(404);
    expect((await get(endpoint.port, '/metrics/../ws')).status).toBe(404);
    expect((await get(endpoint.port, '/metrics', {}, 'POST')).status).toBe(405);
    expect((await get(endpoint.port, '/metrics', { host: 'evil.example:80' })).status).toBe(421);
    expect((await get(endpoint.port, '/metrics', { host: `localhost:${endpoint.port}` })).status).toBe(200);
  });

  it('with a token, requires Authorization: Bearer', async () => {
    endpoint = await startMetricsEndpoint({ exporter, port: 0, token: TOKEN });
    const none = await get(endpoint.port, '/metrics');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body).not.toContain('gpu_bridge');
    expect((await get(endpoint.port, '/metrics', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await get(endpoint.port, `/metrics?token=${TOKEN}`)).status).toBe(401); // never in a URL
    expect((await get(endpoint.port, '/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('refuses an invalid port, and reports a busy one', async () => {
    await expect(startMetricsEndpoint({ exporter, port: 70_000 })).rejects.toThrow(/invalid port/);
    endpoint = await startMetricsEndpoint({ exporter, port: 0 });
    await expect(startMetricsEndpoint({ exporter, port: endpoint.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('the setting that turns it on', () => {
  it('is off by default, read from the config file, and overridden by the environment', () => {
    expect(readMetricsEndpointConfig({}, dir)).toBeNull();
    writeFileSync(join(dir, 'metrics-endpoint.json'), JSON.stringify({ port: 9835, token: TOKEN }));
    expect(readMetricsEndpointConfig({}, dir)).toEqual({ port: 9835, token: TOKEN });
    expect(readMetricsEndpointConfig({ GPU_BRIDGE_METRICS_PORT: '9900' }, dir)).toEqual({ port: 9900, token: null });
  });

  it('says what is wrong with a bad setting', () => {
    expect(() => readMetricsEndpointConfig({ GPU_BRIDGE_METRICS_PORT: '99999' }, dir)).toThrow(/port/);
    expect(() => readMetricsEndpointConfig({ GPU_BRIDGE_METRICS_PORT: '80; rm -rf /' }, dir)).toThrow(/must be a port number/);
    expect(() => readMetricsEndpointConfig({ GPU_BRIDGE_METRICS_PORT: '9900', GPU_BRIDGE_METRICS_TOKEN: 'short' }, dir)).toThrow(/token/);
    writeFileSync(join(dir, 'metrics-endpoint.json'), '{"port": 9835, "listen": "0.0.0.0"}');
    expect(() => readMetricsEndpointConfig({}, dir)).toThrow(/metrics-endpoint\.json/);
    writeFileSync(join(dir, 'metrics-endpoint.json'), '{not json');
    expect(() => readMetricsEndpointConfig({}, dir)).toThrow(/not valid JSON/);
  });

  it('starts from the setting, and logs instead of throwing when it cannot', async () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    expect(await startConfiguredMetricsEndpoint(exporter, { env: { GPU_BRIDGE_METRICS_PORT: 'x' }, configDir: dir, log })).toBeNull();
    expect(lines.at(-1)).toMatch(/no local metrics endpoint: GPU_BRIDGE_METRICS_PORT must be a port number/);
    const probe = await startMetricsEndpoint({ exporter, port: 0 });
    const free = probe.port;
    await probe.close();
    endpoint = await startConfiguredMetricsEndpoint(exporter, { env: { GPU_BRIDGE_METRICS_PORT: String(free), GPU_BRIDGE_METRICS_TOKEN: TOKEN }, configDir: dir, log });
    expect(endpoint?.port).toBe(free);
    expect(lines.at(-1)).toBe(`gpu-bridge: Prometheus metrics at http://127.0.0.1:${free}/metrics (bearer token required)`);
    expect((await get(free, '/metrics', { authorization: `Bearer ${TOKEN}` })).body).toContain('gpu_bridge_gpu_power_watts');
  });
});
