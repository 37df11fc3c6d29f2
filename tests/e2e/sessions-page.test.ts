import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { openApi } from '../helpers/api-client';
import { reviewPage } from '../helpers/review-pages';
import { CLI, pairHostWithPeer, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/sessions-page: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

describe.skipIf(!haveChromium)('Sessions page in Chromium against gpu-bridge serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-sessions-'));
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: dir, GPU_BRIDGE_STATE_DIR: dir });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${serve.url}#/sessions`);
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
  });

  it('with no paired peer, the start form says so and cannot start (no crash)', async () => {
    const form = page.getByRole('region', { name: 'Start a session' });
    await expect.poll(async () => (await form.textContent()) ?? '', { timeout: 20_000 }).toMatch(/No paired peer yet: pair a cloud instance on the Peers page/);
    expect(await form.getByRole('button', { name: 'Start session' }).isDisabled()).toBe(true);
    await page.getByRole('region', { name: 'Streaming sessions' }).getByText(/No sessions/).waitFor({ timeout: 10_000 });
    expect(await page.getByRole('checkbox', { name: 'Share GPU' }).count()).toBe(1);
    expect(await page.getByText(/not part of this build/).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('"How fast is this machine?": the self-test button runs the real pipeline and shows its figures', async () => {
    const panel = page.getByRole('region', { name: 'How fast is this machine?' });
    await panel.getByLabel('Size').selectOption('640x360');
    await panel.getByLabel('Frame rate').selectOption('30');
    const button = panel.getByRole('button', { name: /Run self-test|Testing/ });
    await button.click();
    // while it runs (seconds) the button is disabled and progress is shown; then the figures
    await expect.poll(() => button.isDisabled(), { timeout: 10_000 }).toBe(true);
    const figure = (key: string) => panel.locator(`[data-figure="${key}"]`);
    await expect
      .poll(async () => ((await figure('framesDecoded').count()) > 0 ? 'done' : ((await panel.getByRole('alert').allTextContents()).join(' ') || 'running')), { timeout: 90_000 })
      .toBe('done');
    const text = async (key: string) => ((await figure(key).textContent()) ?? '').trim();
    expect(await text('p50Ms')).toMatch(/^\d+(\.\d)? ms$/);
    expect(await text('p95Ms')).toMatch(/^\d+(\.\d)? ms$/);
    expect(Number(await text('framesDecoded'))).toBeGreaterThan(0);
    expect(Number(await text('framesSent'))).toBeGreaterThan(0);
    expect(await text('encoder')).toMatch(/libx264|nvenc/);
    expect(await text('run')).toMatch(/^640x360 at 30 fps for 5 s/);
    expect(await button.isDisabled()).toBe(false);
    expect(await panel.getByRole('alert').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});

describe.skipIf(!haveChromium)('Sessions page: a real session to a paired peer process, live, then stopped', () => {
  const hostDir = mkdtempSync(join(tmpdir(), 'gpu-bridge-sessions-host-'));
  const peerDir = mkdtempSync(join(tmpdir(), 'gpu-bridge-sessions-peer-'));
  let peer: RunningCli;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    peer = spawnCli(['peer', 'run', '--port', '0', '--config-dir', peerDir]);
    await peer.waitFor(/listening on \S+:\d+/);
    // paired (with view) before serve starts: serve dials its paired peers when it starts
    const record = pairHostWithPeer(peerDir, hostDir);
    execFileSync(process.execPath, [CLI, 'pair', 'scopes', record.fingerprint as string, 'view', '--config-dir', hostDir]);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: hostDir });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${serve.url}#/sessions`);
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
    await peer?.stop();
  });

  it('asks for sharing, starts a test-pattern session, shows its live figures, and stops it', async () => {
    const form = page.getByRole('region', { name: 'Start a session' });
    await expect.poll(async () => (await form.textContent()) ?? '', { timeout: 30_000 }).toMatch(/Sharing is off/);
    const share = page.getByRole('checkbox', { name: 'Share GPU' });
    await share.click();
    await expect.poll(() => share.isChecked(), { timeout: 10_000 }).toBe(true);
    // the capture sources: what works on this host and, for each that does not, what to do
    const sources = page.getByRole('region', { name: 'Capture sources' });
    await expect.poll(async () => (await sources.getByRole('row', { name: /Test pattern/ }).textContent()) ?? '', { timeout: 10_000 }).toMatch(/works/);
    expect(await sources.getByRole('row', { name: /Screen share portal/ }).textContent()).toMatch(/not here: .+/);
    await form.getByLabel('Source').selectOption('test');
    await form.getByLabel('Size').selectOption('custom');
    await form.getByLabel('Width').fill('640');
    await form.getByLabel('Height').fill('360');
    await form.getByLabel('Frame rate').selectOption('30');
    await form.getByRole('button', { name: 'Start session' }).click();

    const card = page.getByRole('region', { name: /^Session [0-9a-f]{8} to / });
    await card.waitFor({ timeout: 30_000 });
    const state = card.locator('[data-field="state"]');
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 30_000 }).toMatch(/^running/);
    // figures arrive through sessions.second: the actual bitrate becomes a number
    await expect.poll(async () => (await card.getByText(/^actual /).textContent()) ?? '', { timeout: 30_000 }).toMatch(/actual \d+(\.\d)? (kbit|Mbit)\/s/);
    expect(await card.getByRole('img', { name: /Latency chart for / }).count()).toBe(1);
    expect(await card.getByRole('img', { name: /Bitrate chart for / }).count()).toBe(1);
    // rtp, the default transport, with its own live counters
    expect(await card.locator('[data-field="transport"]').textContent()).toMatch(/^RTP over UDP, AES-256-GCM/);
    expect(await card.getByRole('img', { name: /Loss and repair chart for / }).count()).toBe(1);
    expect(await card.getByRole('img', { name: /Time to a clean picture chart for / }).count()).toBe(1);
    // the page as a user judges it, a few seconds in: first frame, charts with units and figures, the kill switch
    await page.waitForTimeout(3000);
    const { ws, call } = await openApi(serve);
    try {
      expect(await reviewPage(page, call, 'session-rtp', 'sessions')).toEqual([]);
      expect(await reviewPage(page, call, 'session-rtp', 'dashboard')).toEqual([]);
    } finally {
      ws.close();
    }
    await page.evaluate(() => (location.hash = '#/sessions'));
    expect(await card.locator('[data-field="first-frame"]').textContent()).not.toMatch(/not yet/);
    // a clean link: the loss charts say why they draw nothing, and every axis has its unit
    expect(await card.getByRole('img', { name: /^Bitrate chart for / }).getAttribute('data-units')).toBe('Mbit/s');
    expect(await card.getByRole('img', { name: /^Latency chart for / }).getAttribute('data-units')).toBe('ms');
    // beside the bitrate's steps: the queueing delay the rtp receiver measures, in ms
    expect(await card.getByRole('img', { name: /^Queueing delay chart for / }).getAttribute('data-units')).toBe('ms');

    await card.getByRole('button', { name: /^Stop Session/ }).click();
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 30_000 }).toMatch(/^stopped/);
    expect(pageErrors).toEqual([]);
  });
});
