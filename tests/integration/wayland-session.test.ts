// A whole session from a Wayland desktop, as a workstation owner runs it: the app (`gpu-bridge serve`)
// runs as the desktop user inside a real headless GNOME session (tests/helpers/wayland-rig.ts), pairs with
// a peer process, shares, and starts a session whose source is the portal (then GNOME's own API); the peer
// decodes the desktop with latency figures, and the keys and clicks it sends back arrive at a Wayland
// client on that desktop (Debian's wev, which prints every event it gets).
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openApi } from '../helpers/api-client';
import { CLI, pairHostWithPeer, spawnCli, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { until } from '../helpers/until';
import type { TestWsClient } from '../helpers/ws-client';
import { rigUnavailable, startGnomeRig, startSwayRig, startWaylandAnimator, type GnomeRig, type Rig, type SwayRig } from '../helpers/wayland-rig';

const noWev = statSync('/usr/bin/wev', { throwIfNoEntry: false }) ? null : 'wev is not installed (Debian: wev)';
const skip = rigUnavailable('gnome') ?? noWev;
if (skip) console.warn(`SKIP wayland-session (GNOME): ${skip}`);
const swaySkip = rigUnavailable('sway') ?? noWev;
if (swaySkip) console.warn(`SKIP wayland-session (sway): ${swaySkip}`);

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

interface Host {
  api: TestWsClient;
  call: (method: string, params?: unknown) => Promise<unknown>;
  peer: RunningCli;
  send: (event: unknown) => Promise<void>;
  stop: () => Promise<void>;
}

/** `serve` as the desktop user, paired with a peer process (view and input), sharing on. */
async function hostWithPeer(rig: Rig): Promise<Host> {
  const root = mkdtempSync(join(tmpdir(), 'gb-wl-session-'));
  const peerDir = join(root, 'peer');
  const peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless', '--input-from-stdin']);
  await peer.waitFor(/listening on /);
  pairHostWithPeer(peerDir, join(rig.home, '.config', 'gpu-bridge'));
  chownTree(join(rig.home, '.config'), rig.user.uid, rig.user.gid);
  const started = rig.startAsUser('serve', process.execPath, [CLI, 'serve', '--port', '0'], rig.userEnv(rig.env));
  const origin = await until('serve listening', () => /listening on (\S+)/.exec(started.log())?.[1], 30_000);
  const url = await until('serve URL', () => /^\s+(\S+\?token=\S+)$/m.exec(started.log())?.[1], 10_000);
  const serve: ServeHandle = { cli: null as unknown as RunningCli, origin, url, token: new URL(url).searchParams.get('token')!, port: Number(new URL(origin).port) };
  const { ws: api, call } = await openApi(serve);
  await until('the peer online', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online, 30_000);
  await call('peers.setScopes', { peer: 'cloudbox', scopes: ['view', 'input'] });
  await call('sharing.set', { sharing: true });
  return {
    api,
    call,
    peer,
    send: async (event) => {
      const before = peer.output().length;
      peer.child.stdin.write(`${JSON.stringify(event)}\n`);
      await until('the peer sent the event', () => peer.output().slice(before).includes('"input-sent","hosts":1'), 5000);
    },
    stop: async () => {
      api.close();
      // the peer reads input from its stdin: close it, or it waits there past SIGTERM
      peer.child.stdin.end();
      await peer.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Starts a session from `source`; a test that fails on the way leaves no session running to refuse the next one. */
async function startSession(host: Host, source: 'portal' | 'gnome' | 'wlroots'): Promise<Info> {
  const started = (await host.call('sessions.start', { peer: 'cloudbox', width: 1280, height: 720, fps: 30, source: { kind: source } })) as Info;
  onTestFinished(async () => {
    const left = ((await host.call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state === 'running');
    if (left) await host.call('sessions.stop', { id: started.id });
  });
  return started;
}

/** Streams from `source` for a few seconds, then moves, clicks and types into wev through the session's input. */
async function sessionWithInput(rig: Rig, host: Host, source: 'portal' | 'gnome' | 'wlroots'): Promise<void> {
  const { api, call, send } = host;
  startWaylandAnimator(rig, 1280, 720, 30);
  const sources = (await call('sessions.sources', {})) as { sessionType: string; sources: Array<{ kind: string; available: boolean }> };
  expect(sources.sessionType).toBe('wayland');
  expect(sources.sources.find((s) => s.kind === source)?.available).toBe(true);
  const started = await startSession(host, source);
  expect(started.sourceKind).toBe(source);
  await until('the session running', async () => ((await call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state === 'running'), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const seconds = api.events.filter((e) => e.event === 'sessions.second' && (e.payload as { sessionId: string }).sessionId === started.id).map((e) => e.payload as { p50Ms: number | null });
  expect(seconds.filter((s) => typeof s.p50Ms === 'number').length).toBeGreaterThan(2);
  // the input check needs wev's window, not the full-screen animator, under the pointer
  await rig.kill('animator');
  const wev = rig.startAsUser(`wev-${source}`, 'stdbuf', ['-oL', 'wev'], rig.userEnv({ WAYLAND_DISPLAY: rig.env.WAYLAND_DISPLAY }));
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
  await rig.kill(`wev-${source}`);
}

describe.skipIf(skip !== null)('a Wayland session: GNOME desktop → portal (and gnome) capture → rtp → a paired peer, input back', () => {
  let gnome: GnomeRig;
  let host: Host;

  beforeAll(async () => {
    gnome = await startGnomeRig();
    host = await hostWithPeer(gnome.rig);
  }, 90_000);

  afterAll(async () => {
    await host?.stop();
    await gnome?.rig.stop();
  });

  it('portal: the peer decodes the desktop with latency figures, and its clicks and keys reach a Wayland window', async () => {
    await sessionWithInput(gnome.rig, host, 'portal');
    // one approval: the test backend showed one dialog for the screen and the input together
    expect(gnome.portalLog().filter((e) => e.dialog === true && e.kind === 'remote-desktop')).toHaveLength(1);
  }, 120_000);

  it('portal: while the workstation\'s dialog is open, the app says so (sessions.approval), and not after', async () => {
    await gnome.setAnswer('grant', 1500);
    const seen = host.api.events.length;
    const started = (await host.call('sessions.start', { peer: 'cloudbox', width: 1280, height: 720, fps: 30, source: { kind: 'portal' } })) as Info;
    const approvals = host.api.events.slice(seen).filter((e) => e.event === 'sessions.approval').map((e) => e.payload as { waiting: boolean; source: string; peer: string });
    expect(approvals).toEqual([{ waiting: true, source: 'portal', peer: 'cloudbox' }, { waiting: false, source: 'portal', peer: 'cloudbox' }]);
    await host.call('sessions.stop', { id: started.id });
    await gnome.setAnswer('grant');
  }, 60_000);

  it('gnome (unattended): refused until the owner allows it; then the same, with no dialog', async () => {
    await expect(host.call('sessions.start', { peer: 'cloudbox', width: 1280, height: 720, fps: 30, source: { kind: 'gnome' } })).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringMatching(/unattended sharing is off/) });
    await host.call('sessions.setCaptureSettings', { unattendedGnome: true });
    const dialogs = () => gnome.portalLog().filter((e) => e.dialog !== undefined).length;
    const before = dialogs();
    await sessionWithInput(gnome.rig, host, 'gnome');
    expect(dialogs()).toBe(before);
  }, 120_000);
});

describe.skipIf(swaySkip !== null)('a Wayland session: sway → wlr-screencopy → rtp → a paired peer, input back through a virtual pointer and keyboard', () => {
  let sway: SwayRig;
  let host: Host;

  beforeAll(async () => {
    sway = await startSwayRig();
    host = await hostWithPeer(sway.rig);
  }, 90_000);

  afterAll(async () => {
    await host?.stop();
    await sway?.rig.stop();
  });

  it('wlroots: the peer decodes the desktop, and its clicks and keys reach a Wayland window', async () => {
    await sessionWithInput(sway.rig, host, 'wlroots');
  }, 120_000);

  it('keys are held as the peer holds them (Shift+h types H), the keyboard stays on the seat, and a key still held when the session stops is released', async () => {
    const started = await startSession(host, 'wlroots');
    await until('the session running', async () => ((await host.call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state === 'running'), 30_000);
    const wev = sway.rig.startAsUser('wev-held', 'stdbuf', ['-oL', 'wev'], sway.rig.userEnv({ WAYLAND_DISPLAY: sway.rig.env.WAYLAND_DISPLAY }));
    onTestFinished(() => sway.rig.kill('wev-held'));
    await until('wev focused', () => wev.log().includes('wl_keyboard] enter'), 10_000);
    const keyboards = () => (JSON.parse(sway.swaymsg(['-t', 'get_inputs', '-r'])) as Array<{ identifier: string; type: string }>).filter((i) => i.type === 'keyboard').map((i) => i.identifier);
    const keyboardsBefore = keyboards();
    await host.send({ kind: 'key', key: 'LeftShift', down: true });
    await host.send({ kind: 'key', key: 'H', down: true });
    await host.send({ kind: 'key', key: 'H', down: false });
    await host.send({ kind: 'key', key: 'LeftShift', down: false });
    await until('H in wev', () => /sym: +H /.test(wev.log()), 5000);
    await host.send({ kind: 'key', key: 'J', down: true });
    await until('j pressed in wev', () => /state: 1 \(pressed\)\s+sym: +j /.test(wev.log()), 5000);
    // one keyboard for the whole session, on the seat from its start (the session's own, virtual), not one per key
    expect(keyboardsBefore).toHaveLength(1);
    expect(keyboards()).toEqual(keyboardsBefore);
    const keymapsWhileHeld = wev.log().match(/wl_keyboard\] keymap/g)?.length ?? 0;
    await host.call('sessions.stop', { id: started.id });
    await until('j released when the session stopped', () => /state: 0 \(released\)\s+sym: +j /.test(wev.log()), 5000).catch((error: Error) => {
      throw new Error(`${error.message}\n${wev.log().slice(-2000)}`);
    });
    // and wev was not handed a keymap per key (each keyboard that comes to the seat hands its clients one):
    // once CI saw 3 for the 5 key events, not reproduced in 17 runs under load since; the log says where they came
    expect(keymapsWhileHeld, wev.log()).toBeLessThan(5);
  }, 60_000);

  it('the kill switch: the session stops and a key sent after it reaches nothing', async () => {
    const started = await startSession(host, 'wlroots');
    await until('the session running', async () => ((await host.call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state === 'running'), 30_000);
    const wev = sway.rig.startAsUser('wev-kill', 'stdbuf', ['-oL', 'wev'], sway.rig.userEnv({ WAYLAND_DISPLAY: sway.rig.env.WAYLAND_DISPLAY }));
    await until('wev mapped', () => wev.log().includes('configure'), 10_000);
    await host.send({ kind: 'text', text: 'k' });
    await until('the key before the kill switch', () => /sym: +k /.test(wev.log()), 5000);
    await host.call('sharing.kill', {});
    await until('the session stopped', async () => ((await host.call('sessions.list', {})) as Info[]).find((s) => s.id === started.id && s.state !== 'running'), 10_000);
    host.peer.child.stdin.write(`${JSON.stringify({ kind: 'text', text: 'z' })}\n`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(wev.log()).not.toMatch(/sym: +z /);
    await sway.rig.kill('wev-kill');
  }, 60_000);
});
