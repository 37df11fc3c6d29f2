// The Passthrough wizard in Chromium, walked from host checks to bound and back, on a FAKE sysfs: there is
// no bindable GPU outside the QEMU guest. `gpu-bridge serve` reads the fake tree (GPU_BRIDGE_HOST_ROOT);
// the real privileged helper runs on it (GPU_BRIDGE_HELPER_ROOT, directly, no pkexec) and performs its
// driver_override / unbind / drivers_probe writes through tests/helpers/fake-kernel.mjs instead of tee,
// a small fake kernel that moves the driver symlinks and creates /dev/vfio/<group> as the kernel would.
// The real-kernel proof of the same helper is tests/integration/vfio-qemu.test.ts.
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { buildFakeSysfs } from '../helpers/fake-sysfs';
import { startFakeHostServe } from '../helpers/fake-host-serve';
import type { ServeHandle } from '../helpers/spawn-cli';
import { B550, fixtureDevices } from '../unit/passthrough/fixture-host';
import { screenshot } from '../helpers/screenshots';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/passthrough-wizard-fake-sysfs: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

const GPU = '0000:2b:00.0';
const ORIGINAL: Record<string, string> = { '0000:2b:00.0': 'nouveau', '0000:2b:00.1': 'snd_hda_intel', '0000:2b:00.2': 'xhci_hcd', '0000:2b:00.3': 'nvidia-gpu' };

describe.skipIf(!haveChromium)('Passthrough wizard on a fake sysfs with a fake kernel: checks → plan → bound → restored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gb-wizard-fake-sysfs-'));
  const root = join(dir, 'host');
  const helperState = join(dir, 'helper-state');
  const failFile = join(dir, 'fail-probe');
  let group: string;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;

  const driverOf = async (bdf: string) => {
    try {
      return basename(await readlink(join(root, 'sys/bus/pci/devices', bdf, 'driver')));
    } catch {
      return null;
    }
  };
  const hostDrivers = async () => Object.fromEntries(await Promise.all(Object.keys(ORIGINAL).map(async (bdf) => [bdf, await driverOf(bdf)])));
  /** "Driver now" of each row of the plan table, as the server last reported it. */
  const planDrivers = async () => {
    const rows = page.getByRole('table', { name: 'Devices that move to vfio-pci' }).locator('tbody tr');
    const out: Record<string, string> = {};
    for (const row of await rows.all()) {
      const cells = await row.locator('td').allTextContents();
      out[cells[0]!.trim()] = cells[2]!.trim();
    }
    return out;
  };
  /** The wizard's result panel (the connection badge is a status too). */
  const status = () =>
    page
      .getByRole('status')
      .filter({ hasText: /(bind|restore) (done|failed)/ })
      .first()
      .textContent({ timeout: 1_000 })
      .catch(() => '');

  beforeAll(async () => {
    await buildFakeSysfs(root, {
      devices: await fixtureDevices(B550),
      modules: ['vfio', 'vfio_pci', 'vfio_iommu_type1'],
      cmdline: 'root=/dev/nvme0n1p2 rw amd_iommu=on iommu=pt',
      cpuinfo: 'flags\t: fpu svm sse\n',
      acpiTables: ['IVRS'],
    });
    await mkdir(join(root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true }); // vfio-pci is loaded
    group = basename(await readlink(join(root, 'sys/bus/pci/devices', GPU, 'iommu_group')));
    serve = await startFakeHostServe(dir, root, ORIGINAL, { GPU_BRIDGE_FAKE_KERNEL_FAIL: failFile });
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('1. host checks show the fake host, with evidence', async () => {
    await page.goto(`${serve.url}#/passthrough`);
    const checks = page.locator('ul.checks').first();
    await checks.waitFor({ timeout: 20_000 });
    const cpu = checks.locator('li', { hasText: 'CPU virtualization' });
    await expect.poll(() => cpu.textContent(), { timeout: 10_000 }).toMatch(/pass.*flags: svm/s);
  });

  it('2–3. choosing the GPU shows its plan: four functions on their host drivers, viable', async () => {
    await page.getByRole('radio', { name: new RegExp(GPU.replace(/\./g, '\\.')) }).click();
    await expect.poll(planDrivers, { timeout: 20_000 }).toEqual(ORIGINAL);
    await page.getByText('can be passed through').waitFor({ timeout: 5_000 });
    await screenshot(page, 'passthrough-fake-sysfs-plan');
  });

  it('4. bind: the helper moves every function to vfio-pci, verified, and the page shows the host\'s answer', async () => {
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/bind done/);
    expect(await status()).toContain('Verified: drivers ok, /dev/vfio node present, group viable.');
    // The re-read plan (server state, not the click) shows vfio-pci, and so does the fake tree.
    await expect.poll(planDrivers, { timeout: 20_000 }).toEqual(Object.fromEntries(Object.keys(ORIGINAL).map((b) => [b, 'vfio-pci'])));
    expect(Object.values(await hostDrivers())).toEqual(['vfio-pci', 'vfio-pci', 'vfio-pci', 'vfio-pci']);
    expect(existsSync(join(root, 'dev/vfio', group))).toBe(true);
    expect((await readFile(join(root, 'sys/bus/pci/devices', GPU, 'driver_override'), 'utf8')).trim()).toBe('vfio-pci');
    await screenshot(page, 'passthrough-fake-sysfs-bound');
  });

  it('…and back: restore returns every function to its original driver and removes /dev/vfio/<group>', async () => {
    await page.getByRole('button', { name: 'Restore host drivers' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/restore done/);
    await expect.poll(planDrivers, { timeout: 20_000 }).toEqual(ORIGINAL);
    expect(await hostDrivers()).toEqual(ORIGINAL);
    expect(existsSync(join(root, 'dev/vfio', group))).toBe(false);
    expect((await readFile(join(root, 'sys/bus/pci/devices', GPU, 'driver_override'), 'utf8')).trim()).toBe('(null)');
  });

  it('a failed bind says what happened and leaves every device on its original driver', async () => {
    await writeFile(failFile, `${GPU}\n`); // the fake kernel fails the GPU's next probe (EIO), once
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^bind failed: 0000:2b:00\.0: drivers_probe failed: .*EIO.*; every device is back on its original driver/s);
    expect(await status()).toContain('every device was put back on its original driver');
    await expect.poll(planDrivers, { timeout: 20_000 }).toEqual(ORIGINAL);
    expect(await hostDrivers()).toEqual(ORIGINAL);
    expect(existsSync(join(root, 'dev/vfio', group))).toBe(false);
  });

  it('a rollback that cannot finish says so (never "every device was put back"); the next run finishes it from the journal', async () => {
    await writeFile(failFile, `${GPU} always\n`); // the GPU cannot be probed at all until the fault is removed
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^bind failed: .*rollback incomplete, see steps/s);
    expect(await status()).not.toContain('every device was put back');
    expect(await driverOf(GPU)).toBeNull(); // stranded without a driver, as the steps say
    await rm(failFile);
    await page.getByRole('button', { name: 'Restore host drivers' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^rolled back an interrupted bind of 0000:2b:00\.0.*restore done/s);
    await expect.poll(planDrivers, { timeout: 20_000 }).toEqual(ORIGINAL);
    expect(await hostDrivers()).toEqual(ORIGINAL);
  });

  it('the helper audited every action', async () => {
    const lines = (await readFile(join(helperState, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { action: string; result: string });
    expect(lines.map((l) => `${l.action} ${l.result}`)).toEqual([
      'passthrough.bind ok',
      'passthrough.restore ok',
      'passthrough.bind failed',
      'passthrough.bind failed',
      'passthrough.rollback ok',
      'passthrough.restore ok',
    ]);
  });
});
