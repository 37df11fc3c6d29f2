import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { reviewEveryPage } from '../helpers/review-pages';

const PAGES = [
  ['Dashboard', 'This host'],
  ['GPUs', 'Encoders this ffmpeg build offers'],
  ['Passthrough', '1. Host checks'],
  ['Sessions', 'Sharing'],
  ['Peers', 'Pair a cloud instance'],
  ['Settings', 'About'],
] as const;

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/web-ui: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

describe.skipIf(!haveChromium)('web UI in Chromium', () => {
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    serve = await startServe();
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
  });

  it('loads with the token, connects, and removes the token from the address bar', async () => {
    await page.goto(serve.url);
    await page.getByTestId('connection').getByText('Connected').waitFor();
    expect(page.url()).not.toContain('token=');
    await page.getByRole('heading', { level: 2, name: 'This host' }).waitFor();
  });

  it('renders every page, reachable from the keyboard', async () => {
    await page.goto(serve.url);
    for (const [name, heading] of PAGES) {
      const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
      await link.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name }).waitFor();
      await page.getByRole('heading', { level: 2, name: heading }).waitFor();
      expect(await link.getAttribute('aria-current')).toBe('page');
    }
  });

  it('every page of this host as a user judges it: a screenshot each (test-results/screenshots/live-*.png), nothing said that the host contradicts', async () => {
    await page.goto(serve.url);
    await page.getByTestId('connection').getByText('Connected').waitFor();
    const { ws, call } = await openApi(serve);
    try {
      expect(await reviewEveryPage(page, call, 'live')).toEqual([]);
    } finally {
      ws.close();
    }
  });

  it('shows the host facts from app.info', async () => {
    await page.goto(`${serve.url}#/settings`);
    await page.getByText('0.1.0').first().waitFor();
    expect(await page.locator('dd').filter({ hasText: 'web' }).count()).toBeGreaterThan(0);
  });

  it('has no Node or Electron in the page, and blocks injected inline script', async () => {
    await page.goto(serve.url);
    const globals = await page.evaluate(() => ({
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
      module: typeof (window as unknown as { module?: unknown }).module,
    }));
    expect(globals).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined' });
    const ran = await page.evaluate(async () => {
      (window as unknown as { injected?: boolean }).injected = false;
      const script = document.createElement('script');
      script.textContent = 'window.injected = true;';
      document.body.appendChild(script);
      const div = document.createElement('div');
      div.innerHTML = '<img src="x" onerror="window.injected = true">';
      document.body.appendChild(div);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return (window as unknown as { injected?: boolean }).injected;
    });
    expect(ran).toBe(false);
    expect(consoleErrors.some((text) => /Content Security Policy/.test(text))).toBe(true);
  });

  it('toggles sharing through the API and shows it', async () => {
    await page.goto(`${serve.url}#/sessions`);
    const toggle = page.getByRole('checkbox', { name: 'Share GPU' });
    await expect.poll(() => toggle.isEnabled()).toBe(true);
    // nothing shared: the kill switch is not offered, and the page says why
    const kill = page.getByRole('button', { name: 'Stop all sharing' });
    await expect.poll(() => kill.isDisabled()).toBe(true);
    expect(await page.getByText(/^Nothing is shared now/).count()).toBe(1);
    await toggle.click(); // the box shows the host's state: it turns on when the host confirms
    await expect.poll(() => toggle.isChecked()).toBe(true);
    await expect.poll(() => kill.isEnabled()).toBe(true);
    expect(await page.getByText(/^Nothing is shared now/).count()).toBe(0);
    await kill.click();
    await expect.poll(() => toggle.isChecked()).toBe(false);
    await page.getByText('Kill switch: all sharing and remote input stopped.').waitFor();
    await expect.poll(() => kill.isDisabled()).toBe(true);
  });

  it('walks the passthrough wizard: host checks with evidence, re-check, and an honest empty GPU list', async () => {
    await page.goto(`${serve.url}#/passthrough`);
    const checks = page.getByRole('region', { name: '1. Host checks' });
    await checks.locator('.check').first().waitFor();
    expect(await checks.locator('.check').count()).toBeGreaterThan(2);
    expect(await checks.textContent()).toMatch(/bootloader/);
    await checks.getByRole('button', { name: 'Re-check' }).click();
    await checks.locator('.check').first().waitFor();
    await page.getByRole('region', { name: '2. Choose the GPU' }).getByText(/No GPU on this host|IOMMU group/).first().waitFor();
  });

  it('is refused without the token', async () => {
    const fresh = await browser.newPage();
    const response = await fresh.goto(serve.origin);
    expect(response?.status()).toBe(401);
    expect(await fresh.textContent('body')).toMatch(/access token/);
    await fresh.close();
  });

  it('reconnects by itself when the host comes back', async () => {
    const other = await startServe(['--token', 'reconnect-test-token-0123456789']);
    const tab = await browser.newPage();
    await tab.goto(other.url);
    await tab.getByTestId('connection').getByText('Connected').waitFor();
    const port = String(other.port);
    await other.cli.stop();
    await tab.getByTestId('connection').getByText('Disconnected').waitFor();
    // The host comes back on the same address with the same token: the tab reconnects by itself.
    const again = await startServe(['--port', port, '--token', other.token]);
    expect(String(again.port)).toBe(port);
    await tab.getByTestId('connection').getByText('Connected').waitFor({ timeout: 30_000 });
    await again.cli.stop();
    await tab.close();
  });
});
