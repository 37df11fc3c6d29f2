import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startAnimator } from '../../bench/latency-display';
import type { SupervisedSpawn } from '../../src/core/sessions/child-process';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { openApi } from '../helpers/api-client';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { startXvfb } from '../helpers/xvfb';
import { startXev, typedText } from '../helpers/xev';
import { UdpRelay } from '../../src/core/net/udp-relay';
import type { WatchClient, WatchFigures } from '../../src/renderer/src/watch/watch-client';

/** The Watch page's viewer, which it leaves on window for tests. */
type Watched = { gpuBridgeWatch?: WatchClient };

const haveChromium = chromiumPath() !== null;
const haveXvfb = spawnSync('sh', ['-c', 'command -v Xvfb']).status === 0;
if (!haveChromium) console.log('SKIP e2e/watch-webrtc: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');
if (!haveXvfb) console.log('SKIP e2e/watch-webrtc: Xvfb not found (apt-get install xvfb)');

/** Chromium's switches for WebRTC on loopback: its candidates unhidden (no mDNS names), loopback allowed. */
export const WEBRTC_SWITCHES = ['--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

/** The figures with the browser's counters read now (not at the page's last once-a-second update). */
function freshFigures(page: Page): Promise<WatchFigures> {
  return page.evaluate(() => (window as unknown as Watched).gpuBridgeWatch!.readStats());
}

export function figures(page: Page): Promise<WatchFigures | null> {
  return page.evaluate(() => {
    const watch = (window as unknown as Watched).gpuBridgeWatch;
    return watch ? { ...watch.figures } : null;
  });
}

describe.skipIf(!haveChromium || !haveXvfb)('Watch page: a session from an animated X display, watched in Chromium over WebRTC', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-watch-'));
  let xvfb: ChildProcess;
  let display: string;
  let animator: SupervisedSpawn;
  let serve: ServeHandle;
  let browser: Browser;
  let call: (method: string, params?: unknown) => Promise<unknown>;
  let closeApi: () => void;

  beforeAll(async () => {
    const started = await startXvfb('1280x800x24');
    xvfb = started.child;
    display = started.display;
    animator = await startAnimator(started.display, 1280, 720, 30);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: dir, GPU_BRIDGE_STATE_DIR: dir, DISPLAY: started.display, GPU_BRIDGE_WEBRTC_PORTS: '51000-51099' });
    const api = await openApi(serve);
    call = api.call;
    closeApi = () => api.ws.close();
    await call('sharing.set', { sharing: true });
    browser = await launchChromium(WEBRTC_SWITCHES);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    closeApi?.();
    await serve?.cli.stop();
    await animator?.stop(1000);
    xvfb?.kill();
  });

  it.each(['luma', 'canvas'] as const)('shows the picture: frames decoded, their stamps read back (%s), the host measures capture-to-glass latency', async (path) => {
    const page = await browser.newPage();
    // without WebCodecs the page reads the strip through a canvas
    if (path === 'canvas') await page.addInitScript(() => delete (window as unknown as { VideoFrame?: unknown }).VideoFrame);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(60);
    const seen = (await figures(page))!;
    expect(seen.state).toBe('playing');
    expect(seen.stampPath).toBe(path);
    expect(seen.keyFramesDecoded).toBeGreaterThanOrEqual(1);
    // nearly every shown frame carries a readable stamp (an unreadable one is a damaged picture)
    expect(seen.stamped / seen.callbacks).toBeGreaterThan(0.95);
    const sessions = (await call('sessions.list')) as { id: string; viewers: string[]; transport: string; state: string; last: { p50Ms: number | null; fpsReceived: number } | null }[];
    const session = sessions.find((s) => s.viewers.some((v) => v.startsWith('browser ')))!;
    expect(session.transport).toBe('rtp');
    await expect.poll(async () => ((await call('sessions.list')) as typeof sessions).find((s) => s.id === session.id)?.last?.p50Ms ?? null, { timeout: 10_000 }).not.toBeNull();
    const last = ((await call('sessions.list')) as typeof sessions).find((s) => s.id === session.id)!.last!;
    console.log(`e2e/watch-webrtc: 640x360@30 in Chromium, stamps read from ${path}: host-measured capture-to-glass p50 ${last.p50Ms} ms, ${last.fpsReceived} fps read back; page overlay ${seen.latencyMs} ms; ${seen.shown} presented, ${seen.framesDecoded} decoded`);
    expect(await page.getByTestId('watch-overlay').textContent()).toMatch(/\d+ fps/);
    // ICE on the configured ports only (a firewall opens that range)
    const offer = await page.evaluate(() => (window as unknown as Watched).gpuBridgeWatch!.offer!.sdp);
    const ports = [...offer.matchAll(/^a=candidate:\S+ \d udp \d+ \S+ (\d+) typ/gm)].map((m) => Number(m[1]));
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port >= 51000 && port <= 51099, `candidate port ${port}`).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('through the UDP relay as the only ICE candidate: 1% loss leaves >= 99% of frames decoded, none given up (NACKs answered); after an outage the browser asks for a keyframe and gets one', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    let relay: UdpRelay | null = null;
    // the host's offer keeps one candidate, the relay in front of its loopback one; the browser's answer carries none
    // (the host learns the relay's address from the checks that come through it)
    await page.exposeFunction('gpuBridgeTestRelay', async (sdp: string) => {
      const port = Number(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(sdp)?.[1]);
      relay = new UdpRelay({ host: '127.0.0.1', port }, { oneWayDelayMs: 0, loss: 0.01, seed: 20 });
      const front = await relay.start();
      let placed = false;
      return sdp
        .split('\r\n')
        .flatMap((line) => {
          if (!line.startsWith('a=candidate')) return [line];
          if (placed) return [];
          placed = true;
          return [`a=candidate:1 1 udp 2130706431 127.0.0.1 ${front} typ host`];
        })
        .join('\r\n');
    });
    await page.addInitScript(() => {
      const hooked = window as unknown as { gpuBridgeTestRelay?: (sdp: string) => Promise<string> };
      const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = async function (this: RTCPeerConnection, description?: RTCSessionDescriptionInit) {
        if (description?.type === 'offer' && hooked.gpuBridgeTestRelay) description = { type: 'offer', sdp: await hooked.gpuBridgeTestRelay(description.sdp!) };
        return (setRemote as (this: RTCPeerConnection, d: RTCSessionDescriptionInit) => Promise<void>).call(this, description!);
      };
      const local = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype, 'localDescription')!.get!;
      Object.defineProperty(RTCPeerConnection.prototype, 'localDescription', {
        get(this: RTCPeerConnection) {
          const description = local.call(this) as RTCSessionDescription | null;
          if (!description) return description;
          return { type: description.type, sdp: description.sdp.split('\r\n').filter((line) => !line.startsWith('a=candidate')).join('\r\n') };
        },
      });
    });
    // 8 Mbit/s (CBR: some 830 packets a second), so that the outage below loses more than the browser will ask to have resent
    await page.goto(`${serve.url}#/watch?start=640x360@30&kbps=8000`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(30);
    expect(relay).not.toBeNull();
    type Listed = { id: string; viewers: string[]; framesSent: number };
    const sessionId = await page.evaluate(() => (window as unknown as Watched).gpuBridgeWatch!.offer!.sessionId);
    const sent = async () => ((await call('sessions.list')) as Listed[]).find((s) => s.id === sessionId)!.framesSent;
    const [start, sentBefore] = await Promise.all([freshFigures(page), sent()]);
    const before = { shown: start.shown, decoded: start.framesDecoded, sent: sentBefore, dropped: relay!.dropped };
    await page.waitForTimeout(10_000);
    const [now, sentAfter] = await Promise.all([freshFigures(page), sent()]);
    const after = { figures: now, sent: sentAfter, dropped: relay!.dropped };
    // frames in flight at either end are a frame or two; the share is over some 300 frames
    const shown = after.figures.shown - before.shown;
    const decoded = after.figures.framesDecoded - before.decoded;
    const framesSent = after.sent - before.sent;
    const percent = (n: number) => `${((100 * n) / framesSent).toFixed(1)}%`;
    console.log(
      `e2e/watch-webrtc: 1% loss through the relay: of ${framesSent} frames sent, ${decoded} decoded (${percent(decoded)}) and ${shown} presented (${percent(shown)}; the headless compositor on a busy machine skips some with or without loss); ` +
        `${after.dropped - before.dropped} datagrams dropped, browser NACKs ${after.figures.nackSent}, PLIs ${after.figures.pliSent}, packets lost after repair ${after.figures.packetsLost}, frames dropped by the decoder ${after.figures.framesDropped}`,
    );
    expect(after.dropped - before.dropped).toBeGreaterThan(0);
    expect(after.figures.nackSent).toBeGreaterThan(0);
    // every frame the host sent reaches the picture: decoded in the browser, none given up for loss
    expect(decoded / framesSent).toBeGreaterThanOrEqual(0.99);
    expect(after.figures.framesDropped).toBe(0);

    // an outage that loses over 1000 packets (more than Chromium's NACK list and our history hold): it asks for a keyframe (PLI) and decodes a new one
    const keyframes = after.figures.keyFramesDecoded;
    const plis = after.figures.pliSent;
    relay!.outage(3000);
    await expect.poll(async () => (await figures(page))!.pliSent, { timeout: 15_000 }).toBeGreaterThan(plis);
    await expect.poll(async () => (await figures(page))!.keyFramesDecoded, { timeout: 15_000 }).toBeGreaterThan(keyframes);
    const resumed = (await figures(page))!.stamped;
    await expect.poll(async () => (await figures(page))!.stamped, { timeout: 10_000 }).toBeGreaterThan(resumed + 30);
    expect(errors).toEqual([]);
    await page.close();
    relay!.close();
  });

  it('input: with "Send keyboard and mouse" on, the pointer over the picture moves the X display\'s pointer (through the input path)', async () => {
    const page = await browser.newPage();
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    await page.getByRole('checkbox', { name: 'Send keyboard and mouse' }).check();
    const box = (await page.locator('.watch-frame video').boundingBox())!;
    // the picture is 640x360 from the display's top left: the video's middle is (320, 180) on the display
    await page.mouse.move(box.x + box.width / 2, box.y + (box.width * 180) / 640);
    const where = () => execFileSync('xdotool', ['getmouselocation'], { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' });
    await expect.poll(where, { timeout: 10_000 }).toMatch(/^x:3(19|20|21) y:1(79|80|81) /);
    await page.close();
  });

  it('input: keys typed on the picture reach the X display only with "Send keyboard and mouse" on (an xev window on the shared display reads them), Shift and symbols included', async () => {
    const haveXev = spawnSync('sh', ['-c', 'command -v xev && command -v xdotool']).status === 0;
    if (!haveXev) {
      console.log('SKIP e2e/watch-webrtc keyboard: xev or xdotool not found (apt-get install x11-utils xdotool)');
      return;
    }
    const xevLog = join(dir, 'xev-keys.log');
    // inside the 640x360 picture, on top of the animator's window (no window manager: the newest window is on top)
    const xev = startXev(display, '240x120+360+200', xevLog);
    onTestFinished(() => void xev.kill());
    const xenv = { ...process.env, DISPLAY: display };
    await expect.poll(() => spawnSync('xdotool', ['search', '--onlyvisible', '--name', 'Event Tester'], { env: xenv }).status, { timeout: 10_000 }).toBe(0);
    // the animator's window (SDL) takes X's keyboard focus when it maps: give it to xev's, as a click on it would under a window manager
    const xevWindow = execFileSync('xdotool', ['search', '--onlyvisible', '--name', 'Event Tester'], { env: xenv, encoding: 'utf8' }).trim().split('\n')[0]!;
    execFileSync('xdotool', ['windowfocus', '--sync', xevWindow], { env: xenv });
    const page = await browser.newPage();
    onTestFinished(() => page.close());
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    const typed = () => typedText(readFileSync(xevLog, 'latin1'));
    // control off: keys on the picture stay in the page
    await page.locator('.watch-frame').focus();
    await page.keyboard.type('off');
    await page.waitForTimeout(1000);
    expect(typed()).toBe('');
    await page.getByRole('checkbox', { name: 'Send keyboard and mouse' }).check();
    // the picture's (480, 260) through the page's pointer too: the host's pointer stays over xev
    const box = (await page.locator('.watch-frame video').boundingBox())!;
    await page.mouse.move(box.x + (box.width * 480) / 640, box.y + (box.width * 260) / 640);
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('watch-frame');
    // as a keyboard sends them: Shift held down around the shifted keys
    await page.keyboard.type('gpu bridge 42, ');
    await page.keyboard.press('Shift+KeyH');
    await page.keyboard.press('Shift+Digit1');
    await page.keyboard.press('Shift+Slash');
    await expect.poll(typed, { timeout: 10_000 }).toBe('gpu bridge 42, H!?');
    await page.waitForTimeout(500);
    expect(typed()).toBe('gpu bridge 42, H!?');
    console.log(`e2e/watch-webrtc: keys typed in Chromium, read from X by xev: ${JSON.stringify(typed())}`);
  });

  it('full screen: the page\'s Full screen control puts the picture full screen (it fills the window), and Esc (a real X key to a windowed Chromium) leaves it', async () => {
    if (spawnSync('sh', ['-c', 'command -v xdotool']).status !== 0) {
      console.log('SKIP e2e/watch-webrtc full screen: xdotool not found (apt-get install xdotool)');
      return;
    }
    // a headless Chromium has no browser window whose Esc handler leaves full screen: a windowed one on its own X display
    const screen = await startXvfb('1280x800x24');
    onTestFinished(() => void screen.child.kill());
    const windowed = await launchChromium(WEBRTC_SWITCHES, { display: screen.display });
    onTestFinished(() => windowed.close());
    const context = await windowed.newContext({ viewport: null });
    const page = await context.newPage();
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    const frame = page.locator('.watch-frame');
    const before = (await frame.boundingBox())!;
    await page.getByRole('button', { name: 'Full screen' }).click();
    await expect.poll(() => page.evaluate(() => document.fullscreenElement?.className ?? null), { timeout: 5000 }).toBe('watch-frame');
    const viewport = await page.evaluate(() => ({ width: innerWidth, height: innerHeight }));
    const full = (await frame.boundingBox())!;
    expect({ width: Math.round(full.width), height: Math.round(full.height) }).toEqual(viewport);
    // the picture goes on in full screen
    const stamped = (await figures(page))!.stamped;
    await expect.poll(async () => (await figures(page))!.stamped, { timeout: 10_000 }).toBeGreaterThan(stamped + 10);
    // Esc as a keyboard sends it: through X to the browser's window (X's focus follows the pointer: no window manager)
    const xenv = { ...process.env, DISPLAY: screen.display };
    execFileSync('xdotool', ['mousemove', '200', '200'], { env: xenv });
    execFileSync('xdotool', ['key', 'Escape'], { env: xenv });
    await expect.poll(() => page.evaluate(() => document.fullscreenElement === null), { timeout: 5000 }).toBe(true);
    const after = (await frame.boundingBox())!;
    expect(Math.round(after.width)).toBe(Math.round(before.width));
    // with no window manager the window itself keeps its size (nothing grants its full-screen request): the picture fills the window
    console.log(`e2e/watch-webrtc: full screen ${Math.round(full.width)}x${Math.round(full.height)} (the whole viewport of a window no window manager enlarges), Esc back to ${Math.round(after.width)}x${Math.round(after.height)}`);
  });

  it.each(['4d001f', '42001f'])('a browser that accepts only H.264 %s still matches the offer and shows the picture (libx264\'s constrained baseline under that payload type)', async (profileLevelId) => {
    const page = await browser.newPage();
    onTestFinished(() => page.close());
    // the page's own preference, as a browser whose decoder has only that profile answers
    await page.addInitScript((only: string) => {
      const createAnswer = RTCPeerConnection.prototype.createAnswer;
      (RTCPeerConnection.prototype as { createAnswer: (this: RTCPeerConnection) => Promise<RTCSessionDescriptionInit> }).createAnswer = async function (this: RTCPeerConnection) {
        (window as unknown as { testPc: RTCPeerConnection }).testPc = this;
        const codecs = RTCRtpReceiver.getCapabilities('video')!.codecs.filter((c) => c.mimeType === 'video/H264' && c.sdpFmtpLine?.includes(`profile-level-id=${only}`) && c.sdpFmtpLine.includes('packetization-mode=1'));
        for (const transceiver of this.getTransceivers()) if (transceiver.receiver.track.kind === 'video') transceiver.setCodecPreferences(codecs);
        return (createAnswer as (this: RTCPeerConnection) => Promise<RTCSessionDescriptionInit>).call(this);
      };
    }, profileLevelId);
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(30);
    // the share of readable stamps is judged from here on: on a loaded machine (the whole suite at once) one
    // to three of a stream's first 15 frames read as unreadable here, as many at either profile, which a ratio
    // over only 30 frames cannot absorb. The path loses nothing meanwhile (no packet lost, no NACK or PLI by
    // then, in 16 of 16 loaded runs): one such frame read showed a gray block in the decoded picture itself.
    // The browser's counters are read now, so the log says so of every run.
    const startUp = await freshFigures(page);
    await expect.poll(async () => ((await figures(page))?.stamped ?? 0) - startUp.stamped, { timeout: 30_000 }).toBeGreaterThan(30);
    const seen = await page.evaluate(async () => {
      const pc = (window as unknown as { testPc: RTCPeerConnection }).testPc;
      const answered = [...pc.localDescription!.sdp.matchAll(/^a=fmtp:\d+ .*profile-level-id=(\w+)/gm)].map((m) => m[1]);
      const stats = await pc.getStats();
      const fmtp = new Map<string, string>();
      let codecId = '';
      stats.forEach((entry: { type: string; id: string; kind?: string; codecId?: string; sdpFmtpLine?: string }) => {
        if (entry.type === 'codec') fmtp.set(entry.id, entry.sdpFmtpLine ?? '');
        if (entry.type === 'inbound-rtp' && entry.kind === 'video') codecId = entry.codecId ?? '';
      });
      return { answered, codec: fmtp.get(codecId) ?? '' };
    });
    expect(seen.answered).toEqual([profileLevelId]);
    expect(seen.codec).toContain(`profile-level-id=${profileLevelId}`);
    const shown = (await figures(page))!;
    expect((shown.stamped - startUp.stamped) / (shown.callbacks - startUp.callbacks)).toBeGreaterThan(0.95);
    console.log(`e2e/watch-webrtc: Chromium answering H.264 ${profileLevelId} only: ${shown.stamped} frames shown with readable stamps of ${shown.callbacks} (${startUp.callbacks - startUp.stamped} unreadable in the first ${startUp.callbacks}, with ${startUp.packetsLost} packets lost, ${startUp.nackSent} NACKs and ${startUp.pliSent} PLIs sent and ${startUp.keyFramesDecoded} keyframes decoded by then), received as ${seen.codec}`);
  });

  it('view links: one made for someone else lets their browser watch (view only), once; revoked, it cuts them off and is refused; all audited', async () => {
    const owner = await browser.newPage();
    // its session must not outlive a failure here (a later test's page with the same settings would join it)
    onTestFinished(() => owner.close());
    await owner.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(owner))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    const made = (await call('viewlinks.create', { label: 'a colleague', minutes: 30 })) as { link: { id: string; input: boolean }; path: string };
    expect(made.link.input).toBe(false);
    // someone else's browser: no owner token, no cookies
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const guest = await context.newPage();
    await guest.goto(`${serve.origin}${made.path}`);
    await expect.poll(async () => (await figures(guest))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    expect(await guest.getByText('View only: this link does not grant input.').count()).toBe(1);
    expect(await guest.getByRole('navigation').count()).toBe(0);
    // the owner's methods are refused to it
    const refused = await guest.evaluate(() =>
      (window as unknown as { gpuBridgeWatch: { api: { call(m: string): Promise<unknown> } } }).gpuBridgeWatch.api.call('sessions.list').then(() => 'answered', (e: Error) => e.message),
    );
    expect(refused).toMatch(/a view link can only watch/);
    const listed = (await call('viewlinks.list')) as { id: string; usedAt: string | null }[];
    expect(listed.find((l) => l.id === made.link.id)?.usedAt).not.toBeNull();
    // one time: the same link again is refused (page and WebSocket)
    const againContext = await browser.newContext();
    onTestFinished(() => againContext.close());
    const again = await againContext.newPage();
    const response = await again.goto(`${serve.origin}${made.path}`);
    expect(response?.status()).toBe(403);
    expect(await again.textContent('body')).toMatch(/no longer valid/);
    // revoked while watching: cut off
    await call('viewlinks.revoke', { id: made.link.id });
    await expect.poll(async () => (await figures(guest))?.state, { timeout: 10_000 }).toBe('ended');
    expect((await figures(guest))?.error).toMatch(/revoked/);
    // the host closed its connection for good with why (a revoked link's page does not retry), whichever word came first
    await expect.poll(() => guest.evaluate(() => (window as unknown as { gpuBridgeWatch: { api: { transport: { ended?: string | null } } } }).gpuBridgeWatch.api.transport.ended ?? null), { timeout: 10_000 }).toMatch(/revoked/);
    const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { action: string; result: string; detail: string | null });
    const actions = audit.filter((e) => e.action.startsWith('viewlink.')).map((e) => `${e.action}:${e.result}`);
    expect(actions).toEqual(expect.arrayContaining(['viewlink.create:ok', 'viewlink.use:ok', 'viewlink.use:refused', 'viewlink.revoke:ok']));
    await context.close();
    await owner.close();
  });

  it('each live session card shows its picture in a thumbnail linking to the Watch page; a thumbnail keeps no session going', async () => {
    const owner = await browser.newPage();
    onTestFinished(() => owner.close());
    await owner.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(owner))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(10);
    const sessionId = await owner.evaluate(() => (window as unknown as Watched).gpuBridgeWatch!.offer!.sessionId);
    const sessionsPage = await browser.newPage();
    onTestFinished(() => sessionsPage.close());
    await sessionsPage.goto(`${serve.url}#/sessions`);
    const thumbnail = sessionsPage.getByRole('link', { name: `Watch session ${sessionId.slice(0, 8)}` });
    await expect.poll(async () => (await thumbnail.count()) > 0 && (await thumbnail.locator('video').getAttribute('data-state')), { timeout: 30_000 }).toBe('playing');
    expect(await thumbnail.getAttribute('href')).toBe(`#/watch?session=${sessionId}`);
    type Listed = { id: string; viewers: string[]; state: string };
    const listed = () => call('sessions.list') as Promise<Listed[]>;
    // the thumbnail is not one of the session's viewers
    expect((await listed()).find((s) => s.id === sessionId)!.viewers).toEqual([expect.stringMatching(/^browser /)]);
    await owner.close();
    await expect.poll(async () => (await listed()).find((s) => s.id === sessionId)?.state, { timeout: 15_000 }).toBe('stopped');
    await sessionsPage.close();
  });
});
