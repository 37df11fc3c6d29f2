import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openApi } from '../helpers/api-client';
import { pairHostWithPeer, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { until } from '../helpers/until';

const RESOURCES = resolve(__dirname, '../../resources/prometheus');
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['promtool', 'prometheus', 'gcc', 'ffmpeg'].filter((tool) => !has(tool));
if (missing.length) console.warn(`SKIP prometheus tests: missing ${missing.join(', ')} (Debian packages prometheus, gcc, ffmpeg; CI installs them with .ci/run)`);

const TOKEN = 'prometheus-scrape-token-0123456789';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** The example files, copied beside a token file (promtool checks that the credentials file exists). */
function exampleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gb-prom-'));
  for (const file of ['prometheus.yml', 'gpu-bridge.rules.yml', 'gpu-bridge.rules.test.yml']) copyFileSync(join(RESOURCES, file), join(dir, file));
  writeFileSync(join(dir, 'gpu-bridge-serve.token'), `${TOKEN}\n`);
  return dir;
}

describe.skipIf(missing.length > 0)('resources/prometheus with Debian\'s Prometheus', () => {
  const processes: Array<ChildProcess | RunningCli> = [];
  const servers: ServeHandle[] = [];

  afterAll(async () => {
    for (const serve of servers) await serve.cli.stop();
    for (const p of processes) {
      if ('stop' in p) await p.stop();
      else p.kill('SIGTERM');
    }
  });

  it('promtool: the example configuration is valid, the rules are valid, and their unit tests pass', () => {
    const dir = exampleDir();
    for (const args of [['check', 'config', 'prometheus.yml'], ['check', 'rules', 'gpu-bridge.rules.yml'], ['test', 'rules', 'gpu-bridge.rules.test.yml']]) {
      const result = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
      expect(result.status, `promtool ${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it('a real Prometheus scrapes two gpu-bridge serve hosts (one with three GPUs on the NVML stub) and a session\'s latency', async () => {
    const dir = exampleDir();
    // two hosts: A with GPUs (the NVML stub, the fake at the one boundary that cannot exist here), B streaming to a peer
    const stub = join(dir, 'libnvidia-ml.so.1');
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', stub, resolve(__dirname, '../fixtures/nvml-stub/nvml_stub.c')]);
    const a = await startServe(['--token', TOKEN], { GPU_BRIDGE_NVML_LIB: stub, NVML_STUB_GPUS: '3', GPU_BRIDGE_CONFIG_DIR: join(dir, 'a'), GPU_BRIDGE_STATE_DIR: join(dir, 'a-state') });
    servers.push(a);
    const peerDir = join(dir, 'peer');
    const peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless']);
    processes.push(peer);
    await peer.waitFor(/listening on /);
    pairHostWithPeer(peerDir, join(dir, 'b'));
    const b = await startServe(['--token', TOKEN], { GPU_BRIDGE_CONFIG_DIR: join(dir, 'b'), GPU_BRIDGE_STATE_DIR: join(dir, 'b-state') });
    servers.push(b);
    const { ws, call } = await openApi(b);
    try {
      await until('the peer online at host B', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online, 20_000);
      await call('sharing.set', { sharing: true });
      await call('sessions.start', { peer: 'cloudbox', width: 640, height: 360, fps: 30, source: { kind: 'test' } });

      // the example configuration, its targets pointed at the two hosts, scraping every second
      const example = readFileSync(join(dir, 'prometheus.yml'), 'utf8');
      const config = example
        .replace(/scrape_interval: 5s/, 'scrape_interval: 1s')
        .replace(/evaluation_interval: 5s/, 'evaluation_interval: 1s')
        .replace("targets: ['workstation-1.lab:8765', 'workstation-2.lab:8765']", `targets: ['127.0.0.1:${a.port}', '127.0.0.1:${b.port}']`);
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const port = await freePort();
      const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      processes.push(prometheus);
      let log = '';
      prometheus.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-2000)));
      const query = async (promql: string) => {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(() => null);
        if (!response?.ok) return [];
        const body = (await response.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
        return body.data.result;
      };
      await until('both hosts up', async () => (await query('up{job="gpu-bridge-serve"} == 1')).length === 2, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}; prometheus said: ${log}`);
      });
      const gpus = await until('host A\'s three GPUs', async () => {
        const result = await query('gpu_bridge_gpu_utilization_ratio');
        return result.length === 3 ? result : null;
      }, 30_000);
      expect(new Set(gpus.map((r) => r.metric.instance))).toEqual(new Set([`127.0.0.1:${a.port}`]));
      const latency = await until('host B\'s session latency', async () => {
        const result = await query('gpu_bridge_session_latency_seconds{quantile="0.95"}');
        return result.length > 0 ? result : null;
      }, 40_000);
      expect(latency[0]!.metric).toMatchObject({ instance: `127.0.0.1:${b.port}`, viewer: 'cloudbox' });
      expect(Number(latency[0]!.value[1])).toBeGreaterThan(0);
      // the recording rules run on the real series
      await until('a recorded rule', async () => (await query('gpu_bridge:gpu_memory_used:ratio')).length === 3, 30_000);
    } finally {
      ws.close();
    }
  }, 120_000);
});
