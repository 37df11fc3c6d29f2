import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { pairingUri, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { reviewPage } from '../helpers/review-pages';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/peers-page: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

describe.skipIf(!haveChromium)('Peers page: pair a real peer process by URI', () => {
  const hostDir = mkdtempSync(join(tmpdir(), 'gpu-bridge-host-'));
  const peerDir = mkdtempSync(join(tmpdir(), 'gpu-bridge-peer-'));
  let serve: ServeHandle;
  let peer: RunningCli;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    peer = spawnCli(['peer', 'run', '--port', '0', '--config-dir', peerDir]);
    await peer.waitFor(/listening on \S+:\d+/);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: hostDir });
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
    await peer?.stop();
  });


  it('refuses a URI whose fingerprint does not match, saying why', async () => {
    await page.goto(`${serve.url}#/peers`);
    const good = pairingUri(peerDir);
    const forged = good.replace(/fp=([0-9a-f])/, (_m, c: string) => `fp=${c === '0' ? '1' : '0'}`);
    await page.getByLabel(/Pairing URI/).fill(forged);
    await page.getByRole('button', { name: 'Pair' }).click();
    await expect.poll(async () => (await page.getByRole('alert').allTextContents()).join(' '), { timeout: 20_000 }).toMatch(/Pairing refused: .*(fingerprint|man-in-the-middle)/i);
  });

  it('pairs, lists the peer with input off, toggles a scope and revokes it', async () => {
    await page.getByLabel(/Pairing URI/).fill(pairingUri(peerDir));
    await page.getByRole('button', { name: 'Pair' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('checkbox', { name: /allow input/ }) });
    await row.first().waitFor({ timeout: 20_000 });
    const input = row.first().getByRole('checkbox', { name: /allow input/ });
    expect(await input.isChecked()).toBe(false);
    await input.click(); // the box reflects the host's state: it turns on when peers.changed arrives
    await expect.poll(() => input.isChecked(), { timeout: 10_000 }).toBe(true);
    // the page with a paired peer, as a user judges it (test-results/screenshots/peers-paired-peers.png)
    const { ws, call } = await openApi(serve);
    try {
      expect(await reviewPage(page, call, 'peers-paired', 'peers')).toEqual([]);
    } finally {
      ws.close();
    }
    page.once('dialog', (dialog) => void dialog.accept());
    await row.first().getByRole('button', { name: 'Revoke' }).click();
    await row.first().getByText('revoked').waitFor({ timeout: 10_000 });
  });
});
