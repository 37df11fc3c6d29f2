import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pairHostWithPeer, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { until } from '../helpers/until';
import type { TestWsClient } from '../helpers/ws-client';
import { startXvfb } from '../helpers/xvfb';

const missing = ['Xvfb', 'ffmpeg', 'setpriv'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missing.length) console.warn(`SKIP session-request tests: missing ${missing.join(', ')} (CI installs them with .ci/run)`);

interface Info {
  id: string;
  state: string;
  reason: string | null;
  viewers: string[];
  framesSent: number;
  framesDecoded: number;
}

interface PeerEvent {
  event: string;
  reason?: string;
  host?: string;
}

/** The JSON lines the peer agent printed (`--json`); a line still being written is left out. */
function events(peer: RunningCli): PeerEvent[] {
  const lines = peer.output().split('\n').slice(0, -1);
  return lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as PeerEvent);
}

describe.skipIf(missing.length > 0)('a peer asks the host for a stream (peer run --watch)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-request-'));
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  let xvfb: { child: ChildProcess; display: string };
  let peer: RunningCli;
  let peerPort = 0;
  let serve: ServeHandle;
  let api: TestWsClient;

  let call: (method: string, params?: unknown) => Promise<unknown>;
  const list = async () => (await call('sessions.list', {})) as Info[];
  const live = (sessions: Info[]) => sessions.filter((s) => s.state === 'starting' || s.state === 'running');

  /** (Re)starts the peer agent on the same port and config dir, asking for 640x360@30: it sends the request when the host reconnects. */
  const startPeer = async () => {
    peer = spawnCli(['peer', 'run', '--port', String(peerPort), '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless', '--watch', '640x360@30']);
    const [, port] = await peer.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    peerPort = Number(port);
  };
  const restartPeer = async () => {
    await peer.stop();
    await startPeer();
    await peer.waitFor(/"event":"connected"/, 20_000);
  };

  beforeAll(async () => {
    xvfb = await startXvfb();
    await startPeer();
    pairHostWithPeer(peerDir, hostDir);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: join(root, 'host-state'), DISPLAY: xvfb.display });
    ({ ws: api, call } = await openApi(serve));
    await until('the peer online', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online);
  }, 40_000);

  afterAll(async () => {
    api?.close();
    await serve?.cli.stop();
    await peer?.stop();
    xvfb?.child.kill();
  });

  it('refuses the request while sharing is off, telling the peer why; no session on the host', async () => {
    await peer.waitFor(/"event":"stream-refused"/, 10_000);
    const refused = events(peer).filter((e) => e.event === 'stream-refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const event of refused) {
      expect(event.host).toBe('workstation');
      expect(event.reason).toMatch(/sharing/);
    }
    expect(await list()).toEqual([]);
  }, 15_000);

  it('with sharing on, a reconnecting peer gets a session as its viewer, running and decoded', async () => {
    await call('sharing.set', { sharing: true });
    await restartPeer();
    let last: Info[] = [];
    const running = await until('the requested session running with frames decoded', async () => {
      last = await list();
      return last.find((s) => s.state === 'running' && s.viewers.includes('cloudbox') && s.framesDecoded > 0);
    }).catch((error: Error) => {
      throw new Error(`${error.message}; sessions: ${JSON.stringify(last)}; peer output:\n${peer.output()}`);
    });
    expect(running.viewers).toEqual(['cloudbox']);
    expect(running.framesSent).toBeGreaterThan(0);
    expect(events(peer).filter((e) => e.event === 'stream-refused'), peer.output()).toEqual([]);
  }, 30_000);

  it('refuses a peer whose view scope was withdrawn, naming the scope', async () => {
    await call('peers.setScopes', { peer: 'cloudbox', scopes: [] });
    // withdrawing the view scope takes the peer off its session
    await until('no live session left', async () => live(await list()).length === 0, 10_000);
    await restartPeer();
    await peer.waitFor(/"event":"stream-refused"/, 10_000);
    const refused = events(peer).filter((e) => e.event === 'stream-refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const event of refused) expect(event.reason).toMatch(/view scope/);
    // still sharing, yet nothing was started for it
    expect(((await call('sharing.get', {})) as { sharing: boolean }).sharing).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(live(await list())).toEqual([]);
  }, 30_000);
});
