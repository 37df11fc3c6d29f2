import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);

function electronBinary(): string | null {
  try {
    const dir = dirname(require.resolve('electron/package.json'));
    const pathFile = join(dir, 'path.txt');
    if (!existsSync(pathFile)) return null;
    const binary = join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

const binary = electronBinary();
if (!binary) console.log('SKIP e2e/electron: the Electron binary is not installed on this machine (it cannot be downloaded here); the same flows run in Chromium through the web shell.');

describe.skipIf(!binary)('desktop app (Electron)', () => {
  let app: ElectronApplication;
  let page: Page;
  beforeAll(async () => {
    app = await _electron.launch({ executablePath: binary!, args: [resolve(__dirname, '../..'), '--no-sandbox'] });
    page = await app.firstWindow();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('loads the UI over the app protocol, connected through IPC', async () => {
    expect(page.url()).toMatch(/^app:\/\/gpu-bridge\//);
    await page.getByTestId('connection').getByText('Connected').waitFor();
  });

  it('renders every page', async () => {
    for (const name of ['Dashboard', 'GPUs', 'Passthrough', 'Sessions', 'Peers', 'Settings']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
    }
  });

  it('exposes no Node to the page', async () => {
    expect(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined');
    expect(await page.evaluate(() => typeof (window as unknown as { process?: unknown }).process)).toBe('undefined');
  });
});
