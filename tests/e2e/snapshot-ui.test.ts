import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { reviewEveryPage } from '../helpers/review-pages';

const EXAMPLES = resolve(__dirname, '../../resources/snapshots');
const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/snapshot-ui: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

describe.skipIf(!haveChromium)('gpu-bridge serve --from: a recorded host in the full UI, read-only (Chromium)', () => {
  let browser: Browser;
  let page: Page;
  const servers: ServeHandle[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    for (const serve of servers) await serve.cli.stop();
  });

  it('the L40S example: a banner says whose and when, the GPU is listed, the dashboard replays its samples, changes are refused', async () => {
    const serve = await startServe(['--from', join(EXAMPLES, 'l40s-nvenc')]);
    servers.push(serve);
    expect(serve.cli.output()).toMatch(/Serving a snapshot of NVIDIA L40S cloud server, Fedora 44 taken 2026-07-03T08:33:38Z, read-only \(10 recorded samples/);
    await page.goto(serve.url);
    const banner = page.getByRole('status', { name: 'Snapshot' });
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/Snapshot of NVIDIA L40S cloud server, Fedora 44.*taken .*2026.*Read-only/s);
    // the dashboard's charts, filled from the recorded samples (the encoder busy under the capture's NVENC load)
    await page.getByRole('img', { name: /^Encoder chart for / }).first().waitFor({ timeout: 20_000 });
    expect(await page.getByText('MSI').count()).toBe(0);
    const { ws, call } = await openApi(serve);
    try {
      await expect
        .poll(async () => {
          const { series } = (await call('metrics.history', { address: '0000:01:00.0' })) as { series: Array<{ values: { encoderUtilPercent?: Array<number | null> } }> };
          return Math.max(0, ...(series[0]?.values.encoderUtilPercent ?? []).map((v) => v ?? 0));
        }, { timeout: 20_000 })
        .toBeGreaterThan(50);
      const info = (await call('app.info', {})) as { hostname: string; capabilities: { nvml: boolean; xDisplay: string | null } };
      // the recorded host's own name and capabilities, not the machine's serving it
      expect(info).toMatchObject({ hostname: 'NVIDIA L40S cloud server, Fedora 44', capabilities: { nvml: false, xDisplay: null } });
    } finally {
      ws.close();
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'GPUs', exact: true }).click();
    await page.getByText('0000:01:00.0').first().waitFor();
    // a change: refused, and the page says why
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions', exact: true }).click();
    await page.getByRole('checkbox', { name: 'Share GPU' }).click();
    await page.getByText(/this is a snapshot of NVIDIA L40S cloud server, Fedora 44 taken .*: it can be looked at, not changed/).first().waitFor({ timeout: 10_000 });
    expect(await page.getByRole('checkbox', { name: 'Share GPU' }).isChecked()).toBe(false);
    expect(pageErrors).toEqual([]);
  });

  it('the B550 example: the passthrough checks and the plan of its RTX 2070 SUPER, and bind refused through the API', async () => {
    const serve = await startServe(['--from', join(EXAMPLES, 'b550-rtx2070super-gt710')]);
    servers.push(serve);
    await page.goto(`${serve.url}#/passthrough`);
    await page.getByRole('status', { name: 'Snapshot' }).waitFor();
    await page.getByRole('heading', { level: 2, name: '1. Host checks' }).waitFor();
    await page.getByRole('radio').first().waitFor({ timeout: 20_000 });
    const radios = page.getByRole('radio');
    const count = await radios.count();
    for (let i = 0; i < count; i += 1) if ((await radios.nth(i).getAttribute('value')) === '0000:2b:00.0') await radios.nth(i).check();
    await page.getByRole('heading', { level: 2, name: '3. Review the plan' }).waitFor();
    await page.getByText(/Verdict:/).waitFor({ timeout: 20_000 });
    const { ws, call } = await openApi(serve);
    try {
      const plan = (await call('passthrough.plan', { address: '0000:2b:00.0' })) as { devices: Array<{ address: string }> };
      expect(plan.devices.map((d) => d.address)).toContain('0000:2b:00.0');
      await expect(call('passthrough.bind', { address: '0000:2b:00.0' })).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('snapshot of MSI MAG B550M MORTAR') });
      await expect(call('sharing.set', { sharing: true })).rejects.toMatchObject({ code: 'REFUSED' });
      const info = (await call('app.info', {})) as { snapshot: { host: string; takenAt: string } | null };
      expect(info.snapshot).toMatchObject({ host: 'MSI MAG B550M MORTAR, RTX 2070 SUPER + GT 710', takenAt: '2026-12-01T00:00:00.000Z' });
    } finally {
      ws.close();
    }
    expect(pageErrors).toEqual([]);
  });

  for (const name of ['l40s-nvenc', 'b550-rtx2070super-gt710']) {
    it(`${name}, every page as a user judges it: a screenshot each (test-results/screenshots/snapshot-${name}-*.png), nothing said that the snapshot contradicts`, async () => {
      const serve = await startServe(['--from', join(EXAMPLES, name)]);
      servers.push(serve);
      await page.goto(serve.url);
      await page.getByRole('status', { name: 'Snapshot' }).waitFor();
      const { ws, call } = await openApi(serve);
      try {
        expect(await reviewEveryPage(page, call, `snapshot-${name}`)).toEqual([]);
      } finally {
        ws.close();
      }
      if (name === 'l40s-nvenc') {
        // what the capture recorded: the card's name and memory from its samples, and the tools it did not run said so
        await page.evaluate(() => (location.hash = '#/gpus'));
        const card = page.getByRole('region', { name: 'NVIDIA L40S' });
        expect(await card.textContent()).toMatch(/Memory45\.0 GiB/);
        await page.getByText("ffmpeg's encoders: not recorded in this snapshot.").waitFor();
        await page.evaluate(() => (location.hash = '#/dashboard'));
        const host = page.getByRole('region', { name: 'This host' });
        await expect.poll(async () => (await host.textContent()) ?? '').toMatch(/NVIDIAnot recorded in this snapshot/);
        // units on the axes, and the figures in the legend before any hover
        const power = page.getByRole('img', { name: /^Temperature and power chart/ });
        expect(await power.getAttribute('data-units')).toBe('°C W');
        // the replay draws its first samples a moment after the page opens
        await expect.poll(async () => (await power.locator('.u-legend').textContent()) ?? '', { timeout: 10_000 }).toMatch(/Power\d+ W/);
        // no self-test offered on a recorded host (it would be refused), and the page says why
        await page.evaluate(() => (location.hash = '#/sessions'));
        const selftest = page.getByRole('region', { name: 'How fast is this machine?' });
        await selftest.getByText(/^Not on a recorded host: this is a snapshot of NVIDIA L40S cloud server/).waitFor();
        expect(await selftest.getByRole('button', { name: 'Run self-test' }).isDisabled()).toBe(true);
      }
      expect(pageErrors).toEqual([]);
    });
  }
});
