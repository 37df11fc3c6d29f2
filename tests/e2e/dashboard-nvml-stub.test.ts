import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { openApi } from '../helpers/api-client';
import { reviewEveryPage } from '../helpers/review-pages';

// Fake at the one boundary that cannot exist here (a GPU): a gcc-built stub exporting the NVML symbols we call.
const stubSource = resolve(__dirname, '../fixtures/nvml-stub/nvml_stub.c');
let stubLib: string | null = null;
try {
  stubLib = join(mkdtempSync(join(tmpdir(), 'nvml-stub-')), 'libnvidia-ml.so.1');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', stubLib, stubSource], { stdio: 'pipe' });
} catch (error) {
  console.log(`SKIP e2e/dashboard: cannot compile the NVML stub with gcc: ${(error as Error).message}`);
  stubLib = null;
}
const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/dashboard: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

describe.skipIf(!stubLib || !haveChromium)('dashboard with live charts from the real sampler over an NVML stub library', () => {
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    serve = await startServe([], { GPU_BRIDGE_NVML_LIB: stubLib! });
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
  });

  it('shows one card per stub GPU with its name, driver-reported memory and four charts', async () => {
    await page.goto(serve.url);
    await page.getByRole('heading', { level: 2, name: 'NVIDIA L40S' }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'NVIDIA A100-SXM4-80GB' }).waitFor();
    const card = page.getByRole('region', { name: 'NVIDIA L40S' });
    expect(await card.getByRole('img').count()).toBe(4);
    await card.getByText('45.0 GiB').waitFor();
  });

  it('draws new points as batches arrive, without re-rendering the page', async () => {
    await page.waitForTimeout(2500);
    const first = await page.evaluate(() => document.querySelector<HTMLCanvasElement>('[aria-label="NVIDIA L40S"] canvas')?.toDataURL());
    await page.waitForTimeout(2500);
    const second = await page.evaluate(() => document.querySelector<HTMLCanvasElement>('[aria-label="NVIDIA L40S"] canvas')?.toDataURL());
    expect(second).not.toBe(first);
  });

  it('every page with two GPUs as a user judges it: a screenshot each (test-results/screenshots/nvml-stub-*.png), units on the axes, figures before any hover', async () => {
    const power = page.getByRole('region', { name: 'NVIDIA L40S' }).getByRole('img', { name: 'Temperature and power chart for 0000:01:00.0' });
    expect(await power.getAttribute('data-units')).toBe('°C W');
    await expect.poll(() => power.locator('.u-legend').innerText()).toMatch(/Time\s*latest[\s\S]*Temperature\s*54 °C[\s\S]*Power\s*110\.2 W/);
    const { ws, call } = await openApi(serve);
    try {
      expect(await reviewEveryPage(page, call, 'nvml-stub')).toEqual([]);
    } finally {
      ws.close();
    }
    await page.evaluate(() => (location.hash = '#/dashboard'));
    await page.getByRole('heading', { level: 2, name: 'NVIDIA L40S' }).waitFor();
  });

  it('hovering a chart shows the values under the cursor, with their units', async () => {
    const card = page.getByRole('region', { name: 'NVIDIA L40S' });
    const hover = async (title: string) => {
      const chart = card.getByRole('img', { name: `${title} chart for 0000:01:00.0` });
      const box = await chart.locator('.u-over').boundingBox();
      expect(box).not.toBeNull();
      await page.mouse.move(box!.x + box!.width * 0.9, box!.y + box!.height / 2);
      return chart.locator('.u-legend');
    };
    // The stub's known readings for this GPU: 54 °C, 110.23 W, memory utilization 2 %.
    const power = await hover('Temperature and power');
    await expect.poll(() => power.innerText()).toMatch(/Temperature\s*54 °C[\s\S]*Power\s*110\.2 W/);
    const utilization = await hover('Utilization');
    await expect.poll(() => utilization.innerText()).toMatch(/GPU\s*\d+ %[\s\S]*Memory\s*2 %/);
    await page.mouse.move(0, 0);
  });

  it('pauses and switches the window', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    const frozen = await page.evaluate(() => document.querySelector<HTMLCanvasElement>('[aria-label="NVIDIA L40S"] canvas')?.toDataURL());
    await page.waitForTimeout(2000);
    expect(await page.evaluate(() => document.querySelector<HTMLCanvasElement>('[aria-label="NVIDIA L40S"] canvas')?.toDataURL())).toBe(frozen);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: '10 min' }).click();
    expect(await page.getByRole('button', { name: '10 min' }).getAttribute('aria-pressed')).toBe('true');
  });
});
