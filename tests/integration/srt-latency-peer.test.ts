import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, pairingUri, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { TcpDelayProxy } from '../helpers/tcp-delay-proxy';
import { until } from '../helpers/until';
import { srtLatencyFromRtt } from '../../src/core/srt/srt-url';
import type { TestWsClient } from '../helpers/ws-client';
import { startXvfb } from '../helpers/xvfb';

const missing = ['Xvfb', 'ffmpeg'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** The SRT latency (ms) in the argv of each ffmpeg this host runs towards a peer's listener. */
function srtCallerLatencies(host: number): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => parentOf(pid) === host).map(commandOf)
    .filter((cmd) => cmd.includes('ffmpeg') && cmd.includes('mode=caller'))
    .map((cmd) => Number(/[?&]latency=(\d+)/.exec(cmd)?.[1]) / 1000);
}

/**
 * Issue 18: over a link of 15 ms each way, srt sessions to a paired peer ran at p50 277 ms: the host sized
 * SRT's latency (4 × RTT + 1) by the last control-channel sample, and the first one (the ping sent with
 * hello, answered once the peer had set up the session) read about 69 ms: 275 ms configured. The control
 * channel goes through a user-space delay (media goes direct: only the latency configured is checked).
 */
describe.skipIf(missing.length > 0)('srt to a paired peer 15 ms away each way', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-srt-latency-'));
  let xvfb: { child: ChildProcess; display: string };
  let peer: RunningCli;
  let proxy: TcpDelayProxy;
  let serve: ServeHandle;
  let api: TestWsClient;
  let call: (method: string, params?: unknown) => Promise<unknown>;

  beforeAll(async () => {
    xvfb = await startXvfb();
    peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', join(root, 'peer'), '--json', '--name', 'farbox', '--headless']);
    const [, port] = await peer.waitFor(/listening on \S+:(\d+)/);
    proxy = new TcpDelayProxy({ host: '127.0.0.1', port: Number(port) }, 15);
    const proxyPort = await proxy.start();
    const uri = pairingUri(join(root, 'peer')).replace(/addr=[^&]+/, `addr=${encodeURIComponent(`127.0.0.1:${proxyPort}`)}`);
    // not execFileSync: the proxy runs in this process
    await promisify(execFile)(process.execPath, [CLI, 'pair', uri, '--json', '--config-dir', join(root, 'host'), '--name', 'workstation']);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: join(root, 'host'), GPU_BRIDGE_STATE_DIR: join(root, 'host-state'), DISPLAY: xvfb.display });
    ({ ws: api, call } = await openApi(serve));
  }, 60_000);

  afterAll(async () => {
    api?.close();
    await serve?.cli.stop();
    await peer?.stop();
    proxy?.close();
    xvfb?.child.kill();
  });

  it('configures SRT from the path\'s round trip (4 × RTT + 1), not from a sample taken while the peer was busy', async () => {
    const rtt = async () => ((await call('peers.list', {})) as Array<{ online: boolean; rttMs: number | null }>)[0]?.rttMs ?? null;
    // two samples at least (the one at connect, and the one after the peer's set-up), each seen here
    const seen: number[] = [];
    await until('a second round trip measured', async () => {
      const now = await rtt();
      if (now !== null && !seen.includes(now)) seen.push(now);
      return seen.length >= 2;
    }, 30_000);
    await call('sharing.set', { sharing: true });
    const started = (await call('sessions.start', { peer: 'farbox', width: 640, height: 360, fps: 30, transport: 'srt', source: { kind: 'x11', display: xvfb.display } })) as { id: string };
    try {
      const [latencyMs] = await until('the encoder calling the peer', () => {
        const found = srtCallerLatencies(serve.cli.child.pid!);
        return found.length > 0 ? found : null;
      });
      // the proxy's 15 ms each way is the floor; the host takes the smallest round trip it has, never a larger one
      expect(latencyMs).toBeGreaterThanOrEqual(4 * 30 + 1);
      expect(latencyMs, `round trips seen: ${seen.join(', ')}`).toBeLessThanOrEqual(srtLatencyFromRtt(Math.min(...seen)));
    } finally {
      await call('sessions.stop', { id: started.id });
    }
  }, 60_000);
});
