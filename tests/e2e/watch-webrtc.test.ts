import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startAnimator } from '../../bench/latency-display';
import type { SupervisedSpawn } from '../../src/core/sessions/child-process';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { openApi } from '../helpers/api-client';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { startXvfb } from '../helpers/xvfb';
import type { WatchFigures } from '../../src/renderer/src/watch/watch-client';

const haveChromium = chromiumPath() !== null;
const haveXvfb = spawnSync('sh', ['-c', 'command -v Xvfb']).status === 0;
if (!haveChromium) console.log('SKIP e2e/watch-webrtc: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');
if (!haveXvfb) console.log('SKIP e2e/watch-webrtc: Xvfb not found (apt-get install xvfb)');

/** Chromium's switches for WebRTC on loopback: its candidates unhidden (no mDNS names), loopback allowed. */
export const WEBRTC_SWITCHES = ['--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

export function figures(page: Page): Promise<WatchFigures | null> {
  return page.evaluate(() => (window.gpuBridgeWatch ? { ...window.gpuBridgeWatch.figures } : null));
}

describe.skipIf(!haveChromium || !haveXvfb)('Watch page: a session from an animated X display, watched in Chromium over WebRTC', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-watch-'));
  let xvfb: ChildProcess;
  let animator: SupervisedSpawn;
  let serve: ServeHandle;
  let browser: Browser;
  let call: (method: string, params?: unknown) => Promise<unknown>;
  let closeApi: () => void;

  beforeAll(async () => {
    const started = await startXvfb('1280x800x24');
    xvfb = started.child;
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

  it('shows the picture: frames decoded, their stamps read back from a canvas, the host measures capture-to-glass latency', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${serve.url}#/watch?start=640x360@30`);
    await expect.poll(async () => (await figures(page))?.stamped ?? 0, { timeout: 30_000 }).toBeGreaterThan(60);
    const seen = (await figures(page))!;
    expect(seen.state).toBe('playing');
    expect(seen.keyFramesDecoded).toBeGreaterThanOrEqual(1);
    // nearly every shown frame carries a readable stamp (an unreadable one is a damaged picture)
    expect(seen.stamped / seen.shown).toBeGreaterThan(0.95);
    const sessions = (await call('sessions.list')) as { id: string; viewers: string[]; transport: string; state: string; last: { p50Ms: number | null; fpsReceived: number } | null }[];
    const session = sessions.find((s) => s.viewers.some((v) => v.startsWith('browser ')))!;
    expect(session.transport).toBe('rtp');
    await expect.poll(async () => ((await call('sessions.list')) as typeof sessions).find((s) => s.id === session.id)?.last?.p50Ms ?? null, { timeout: 10_000 }).not.toBeNull();
    const last = ((await call('sessions.list')) as typeof sessions).find((s) => s.id === session.id)!.last!;
    console.log(`e2e/watch-webrtc: 640x360@30 in Chromium: host-measured capture-to-glass p50 ${last.p50Ms} ms, ${last.fpsReceived} fps shown; page overlay ${seen.latencyMs} ms`);
    expect(await page.getByTestId('watch-overlay').textContent()).toMatch(/\d+ fps/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
