// A whole session from a Wayland desktop, as a workstation owner runs it: the app (`gpu-bridge serve`)
// runs as the desktop user inside a real headless GNOME session (tests/helpers/wayland-rig.ts), pairs with
// a peer process, shares, and starts a session whose source is the portal (then GNOME's own API); the peer
// decodes the desktop with latency figures, and the keys and clicks it sends back arrive at a Wayland
// client on that desktop (Debian's wev, which prints every event it gets).
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApi } from '../helpers/api-client';
import { CLI, pairHostWithPeer, spawnCli, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { until } from '../helpers/until';
import type { TestWsClient } from '../helpers/ws-client';
import { rigUnavailable, startGnomeRig, startWaylandAnimator, type GnomeRig } from '../helpers/wayland-rig';

const skip = rigUnavailable('gnome') ?? (statSync('/usr/bin/wev', { throwIfNoEntry: false }) ? null : 'wev is not installed (Debian: wev)');
if (skip) console.warn(`SKIP wayland-session: ${skip}`);

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

interface Info {
  id: string;
  state: string;
  reason: string | null;
  sourceKind: string;
  framesSent: number;
  framesDecoded: number;
}

describe.skipIf(skip !== null)('a Wayland session: GNOME desktop → portal (and gnome) capture → rtp → a paired peer, input back', () => {
  let gnome: GnomeRig;
  let peer: RunningCli;
  let serve: ServeHandle;
  let api: TestWsClient;
  let call: (method: string, params?: unknown) => Promise<unknown>;
  const root = mkdtempSync(join(tmpdir(), 'gb-wl-session-'));
  const peerDir = join(root, 'peer');

  const send = async (event: unknown) => {
    const before = peer.output().length;
    peer.child.stdin.write(`${JSON.stringify(event)}\n`);
    await until('the peer sent the event', () => peer.output().slice(before).includes('"input-sent","hosts":1'), 5000);
  };

  beforeAll(async () => {
    gnome = await startGnomeRig();
    peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless', '--input-from-stdin']);
    await peer.waitFor(/listening on /);
    const hostDir = join(gnome.rig.home, '.config', 'gpu-bridge');
    pairHostWithPeer(peerDir, hostDir);
    chownTree(join(gnome.rig.home, '.config'), gnome.rig.user.uid, gnome.rig.user.gid);
    const started = gnome.rig.startAsUser('serve', process.execPath, [CLI, 'serve', '--port', '0'], gnome.rig.userEnv(gnome.rig.env));
    const text = () => started.log();
    const origin = await until('serve listening', () => /listening on (\S+)/.exec(text())?.[1], 30_000);
    const url = await until('serve URL', () => /^\s+(\S+\?token=\S+)$/m.exec(text())?.[1], 10_000);
    serve = { cli: null as unknown as RunningCli, origin, url, token: new URL(url).searchParams.get('token')!, port: Number(new URL(origin).port) };
    ({ ws: api, call } = await openApi(serve));
    await until('the peer online', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online, 30_000);
    await call('peers.setScopes', { peer: 'cloudbox', scopes: ['view', 'input'] });
    await call('sharing.set', { sharing: true });
  }, 90_000);

  afterAll(async () => {
    api?.close();
    // the peer reads input from its stdin: close it, or it waits there past SIGTERM
    peer?.child.stdin.end();
    await peer?.stop();
    await gnome?.rig.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Streams from `source` for a few seconds, then moves, clicks and types into wev through the session's input. */
  async function sessionWithInput(source: 'portal' | 'gnome'): Promise<void> {
    startWaylandAnimator(gnome.rig, 1280, 720, 30);
    const sources = (await call('sessions.sources', {})) as { sessionType: string; sources: Array<{ kind: string; available: boolean }> };
    expect(sources.sessionType).toBe('wayland');
    expect(sources.sources.find((s) => s.kind === source)?.available).toBe(true);
    const started = (await call('sessions.start', { peer: 'cloudbox', width: 1280, height: 720, fps: 30, source: { kind: source } })) as Info;
    expect(started.sourceKind).toBe(source);
    await until('the session running', async () => ((await call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state === 'running'), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const seconds = api.events.filter((e) => e.event === 'sessions.second' && (e.payload as { sessionId: string }).sessionId === started.id).map((e) => e.payload as { p50Ms: number | null });
    expect(seconds.filter((s) => typeof s.p50Ms === 'number').length).toBeGreaterThan(2);
    // the input check needs wev's window, not the full-screen animator, under the pointer
    await gnome.rig.kill('animator');
    const wev = gnome.rig.startAsUser(`wev-${source}`, 'stdbuf', ['-oL', 'wev'], gnome.rig.userEnv({ WAYLAND_DISPLAY: gnome.rig.env.WAYLAND_DISPLAY }));
    await until('wev mapped', () => wev.log().includes('xdg_surface') || wev.log().includes('configure'), 10_000);
    // find wev's window: move over a grid until it reports the pointer entering
    for (const y of [360, 200, 520, 100, 620]) {
      for (const x of [640, 320, 960, 100, 1180]) {
        if (wev.log().includes('wl_pointer] enter')) break;
        await send({ kind: 'mouse.move', x, y });
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    }
    await until('the pointer entering wev\'s window', () => wev.log().includes('wl_pointer] enter'), 5000);
    await send({ kind: 'mouse.button', button: 'left', down: true });
    await send({ kind: 'mouse.button', button: 'left', down: false });
    await until('the click in wev', () => /button: 272 \(left\), state: 1 \(pressed\)/.test(wev.log()), 5000);
    await send({ kind: 'key', key: 'h', down: true });
    await send({ kind: 'key', key: 'h', down: false });
    await send({ kind: 'text', text: 'i' });
    await until('the keys in wev', () => /sym: +h /.test(wev.log()) && /sym: +i /.test(wev.log()), 5000).catch((error: Error) => {
      throw new Error(`${error.message}\n${wev.log().slice(-3000)}`);
    });
    const stopped = (await call('sessions.stop', { id: started.id })) as Info;
    console.log(`${source} session: ${stopped.framesSent} frames sent, ${stopped.framesDecoded} decoded; input reached wev`);
    expect(stopped.framesDecoded).toBeGreaterThan(60);
    await gnome.rig.kill(`wev-${source}`);
  }

  it('portal: the peer decodes the desktop with latency figures, and its clicks and keys reach a Wayland window', async () => {
    await sessionWithInput('portal');
    // one approval: the test backend showed one dialog for the screen and the input together
    expect(gnome.portalLog().filter((e) => e.dialog === true && e.kind === 'remote-desktop')).toHaveLength(1);
  }, 120_000);

  it('gnome (unattended): refused until the owner allows it; then the same, with no dialog', async () => {
    await expect(call('sessions.start', { peer: 'cloudbox', width: 1280, height: 720, fps: 30, source: { kind: 'gnome' } })).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringMatching(/unattended sharing is off/) });
    await call('sessions.setCaptureSettings', { unattendedGnome: true });
    const dialogs = () => gnome.portalLog().filter((e) => e.dialog !== undefined).length;
    const before = dialogs();
    await sessionWithInput('gnome');
    expect(dialogs()).toBe(before);
  }, 120_000);
});
