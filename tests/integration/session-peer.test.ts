import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, pairHostWithPeer, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { until } from '../helpers/until';
import type { TestWsClient } from '../helpers/ws-client';
import { startXvfb } from '../helpers/xvfb';

const missing = ['Xvfb', 'ffmpeg', 'setpriv'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missing.length) console.warn(`SKIP session-peer tests: missing ${missing.join(', ')} (CI installs them with .ci/run)`);

/** Every descendant pid of `pid` (children, grandchildren…), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) {
      if (parent !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function ffmpegsWithArg(fragment: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    const cmd = commandOf(pid);
    return cmd.startsWith('ffmpeg ') && cmd.includes(fragment);
  });
}

interface Info {
  id: string;
  transport: string;
  state: string;
  reason: string | null;
  restarts: number;
  framesSent: number;
  encoder: string;
  viewers: string[];
}

describe.skipIf(missing.length > 0)('a real session: X display → libx264 → rtp (or srt) → a paired peer process', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-session-'));
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  let xvfb: { child: ChildProcess; display: string };
  let peer: RunningCli;
  let serve: ServeHandle;
  let api: TestWsClient;

  let call: (method: string, params?: unknown) => Promise<unknown>;
  const list = async () => (await call('sessions.list', {})) as Info[];

  beforeAll(async () => {
    xvfb = await startXvfb();
    peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless']);
    await peer.waitFor(/listening on /);
    pairHostWithPeer(peerDir, hostDir);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: join(root, 'host-state'), DISPLAY: xvfb.display });
    ({ ws: api, call } = await openApi(serve));
    await until('the peer online', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online);
  }, 60_000);

  afterAll(async () => {
    api?.close();
    await serve?.cli.stop();
    await peer?.stop();
    xvfb?.child.kill();
  });

  it('refuses while sharing is off, and refuses a peer that is not paired', async () => {
    await expect(call('sessions.start', { peer: 'cloudbox', width: 640, height: 360, fps: 30 })).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('sharing is off') });
    await call('sharing.set', { sharing: true });
    await expect(call('sessions.start', { peer: 'stranger', width: 640, height: 360, fps: 30 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(call('sessions.start', { peer: 'cloudbox', width: 641, height: 360, fps: 30 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
  });

  it.each(['rtp', 'srt'] as const)('streams the X display for 10 s over %s and the peer decodes at least 95% of the frames', async (transport) => {
    const started = (await call('sessions.start', { peer: 'cloudbox', width: 640, height: 360, fps: 30, transport, source: { kind: 'x11', display: xvfb.display } })) as Info;
    expect(started).toMatchObject({ encoder: 'libx264', transport });
    await until('the session running', async () => (await list()).find((s) => s.id === started.id && s.state === 'running'));
    await new Promise((r) => setTimeout(r, 10_000));
    const stopped = (await call('sessions.stop', { id: started.id })) as Info & { framesDecoded: number; unreadableFrames: number };
    console.log(`session ${started.id}: ${stopped.framesSent} frames sent, ${stopped.framesDecoded} decoded at the peer (${stopped.unreadableFrames} unreadable)`);
    expect(stopped.state).toBe('stopped');
    expect(stopped.framesSent).toBeGreaterThan(200);
    expect(stopped.framesDecoded / stopped.framesSent).toBeGreaterThanOrEqual(0.95);
    const seconds = api.events.filter((e) => e.event === 'sessions.second' && (e.payload as { sessionId: string }).sessionId === started.id).map((e) => e.payload as { p50Ms: number | null; fecRecovered: number | null; packetsLost: number | null });
    expect(seconds.filter((second) => typeof second.p50Ms === 'number').length).toBeGreaterThan(5);
    // rtp's own counters come from the peer each second; srt has none of them
    const withCounters = seconds.filter((second) => typeof second.fecRecovered === 'number' && typeof second.packetsLost === 'number').length;
    if (transport === 'rtp') expect(withCounters).toBeGreaterThan(5);
    else expect(withCounters).toBe(0);
  }, 40_000);

  it('recovers when the encoder is killed mid-session', async () => {
    const session = (await call('sessions.start', { peer: 'cloudbox', width: 640, height: 360, fps: 30, source: { kind: 'x11', display: xvfb.display } })) as Info;
    await until('the session running', async () => (await list()).find((s) => s.id === session.id && s.state === 'running'));
    // the running encoder, not the next one waiting at its gate (pipe:3) for a keyframe request
    const encoders = descendants(serve.cli.child.pid!).filter((pid) => commandOf(pid).startsWith('ffmpeg ') && commandOf(pid).includes('x11grab') && !commandOf(pid).includes('pipe:3'));
    expect(encoders).toHaveLength(1);
    process.kill(encoders[0]!, 'SIGKILL');
    let last: Info | undefined;
    const recovered = await until('the session running again after a restart', async () => {
      last = (await list()).find((s) => s.id === session.id);
      return last?.state === 'running' && last.restarts === 1 ? last : null;
    }).catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
    });
    expect(recovered.reason).toBeNull();
    const seen = api.events.length;
    await new Promise((r) => setTimeout(r, 3000));
    const after = api.events.slice(seen).filter((e) => e.event === 'sessions.second' && (e.payload as { sessionId: string }).sessionId === session.id);
    const rates = after.map((e) => (e.payload as { fpsReceived: number }).fpsReceived);
    expect(rates.slice(-2).every((fps) => fps > 15), `frames per second after the restart: ${rates.join(', ')}; session: ${JSON.stringify((await list()).find((s) => s.id === session.id))}`).toBe(true);
  }, 40_000);

  it('gpu-bridge session start|list|stop drive the running app through its URL', async () => {
    const run = (args: string[]) => JSON.parse(execFileSync('node', [CLI, 'session', ...args, '--url', serve.url, '--json'], { encoding: 'utf8' })) as unknown;
    const started = run(['start', '--peer', 'cloudbox', '--size', '640x360', '--fps', '25', '--display', xvfb.display]) as Info;
    expect(started).toMatchObject({ viewers: ['cloudbox'], encoder: 'libx264' });
    expect((run(['list']) as Info[]).map((s) => s.id)).toContain(started.id);
    const stopped = run(['stop', started.id]) as Info;
    expect(stopped).toMatchObject({ id: started.id, state: 'stopped' });
    const bad = spawnSync('node', [CLI, 'session', 'start', '--peer', 'cloudbox', '--size', '640x361', '--url', serve.url], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/INVALID_PARAMS|height/);
  }, 30_000);

  it('ends the session cleanly when the peer vanishes, leaving no ffmpeg behind on either side', async () => {
    const session = (await list()).find((s) => s.state === 'running');
    expect(session).toBeDefined();
    const receivers = descendants(peer.child.pid!).filter((pid) => commandOf(pid).startsWith('ffmpeg '));
    expect(receivers.length).toBeGreaterThanOrEqual(1);
    await peer.stop('SIGKILL');
    const ended = await until('the session ended', async () => (await list()).find((s) => s.id === session!.id && (s.state === 'stopped' || s.state === 'failed')), 20_000);
    expect(ended.reason).toMatch(/went offline|viewer left|could not open/);
    // the kernel's parent-death signal took the peer's receivers with it
    await until('the peer receivers gone', () => receivers.every((pid) => commandOf(pid) === ''), 5000);
    await until('no encoder left under the host', () => descendants(serve.cli.child.pid!).every((pid) => !commandOf(pid).startsWith('ffmpeg ')), 5000);
    expect(ffmpegsWithArg(` -i ${xvfb.display}+`)).toEqual([]);
  }, 40_000);
});
