// The wizard's last step against a REAL libvirtd (private to the test: tests/helpers/private-libvirtd.ts):
// on a fake sysfs with the fake kernel (as in passthrough-wizard-fake-sysfs.test.ts), the RTX 2070 SUPER's
// four functions are bound to vfio-pci, then attached to a stopped libvirt domain from step 5; libvirt's own
// `dumpxml --inactive` holds the four hostdevs and the page shows them; detached again, then restored.
import { mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { parseHostdevs } from '../../src/core/passthrough/libvirt-domains';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { buildFakeSysfs } from '../helpers/fake-sysfs';
import { privateLibvirtdMissing, startPrivateLibvirtd, type PrivateLibvirtd } from '../helpers/private-libvirtd';
import { startFakeHostServe } from '../helpers/fake-host-serve';
import type { ServeHandle } from '../helpers/spawn-cli';
import { B550, fixtureDevices } from '../unit/passthrough/fixture-host';

const why = chromiumPath() === null ? 'Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)' : privateLibvirtdMissing();
if (why) console.log(`SKIP e2e/passthrough-wizard-vm: ${why}`);

const GPU = '0000:2b:00.0';
const FUNCTIONS = ['0000:2b:00.0', '0000:2b:00.1', '0000:2b:00.2', '0000:2b:00.3'];
const ORIGINAL: Record<string, string> = { '0000:2b:00.0': 'nouveau', '0000:2b:00.1': 'snd_hda_intel', '0000:2b:00.2': 'xhci_hcd', '0000:2b:00.3': 'nvidia-gpu' };
const VM = 'gb-wizard-vm';

describe.skipIf(why !== null)('Passthrough wizard step 5: the GPU handed to a real libvirt domain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gb-wizard-vm-'));
  const root = join(dir, 'host');
  let daemon: PrivateLibvirtd;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const configHostdevs = async () => parseHostdevs((await daemon.virsh('dumpxml', '--inactive', '--', VM)).stdout).map((h) => h.address);
  const status = (text: RegExp) => page.getByRole('status').filter({ hasText: text }).first();

  beforeAll(async () => {
    await buildFakeSysfs(root, { devices: await fixtureDevices(B550), modules: ['vfio', 'vfio_pci', 'vfio_iommu_type1'], cmdline: 'root=/dev/nvme0n1p2 amd_iommu=on', acpiTables: ['IVRS'] });
    await mkdir(join(root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true });
    daemon = await startPrivateLibvirtd(join(dir, 'libvirt'));
    await daemon.define(VM);
    serve = await startFakeHostServe(dir, root, ORIGINAL, { LIBVIRT_DEFAULT_URI: daemon.uri });
    browser = await launchChromium();
    page = await browser.newPage();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('binds, then step 5 lists the stopped VM and attaches the four functions: libvirt holds them, the page shows its XML', async () => {
    await page.goto(`${serve.url}#/passthrough`);
    await page.getByRole('radio', { name: new RegExp(GPU.replace(/\./g, '\\.')) }).click();
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await status(/bind done/).waitFor({ timeout: 60_000 });
    const vms = page.getByRole('table', { name: 'libvirt VMs' });
    await vms.getByRole('row', { name: new RegExp(`${VM}.*shut off`) }).waitFor({ timeout: 30_000 });
    await page.getByRole('combobox', { name: 'VM to give the devices to' }).selectOption(VM);
    await page.getByRole('button', { name: 'Attach to VM' }).click();
    await status(new RegExp(`Attached to ${VM}`)).waitFor({ timeout: 60_000 });
    const xml = await page.getByLabel('hostdev XML').textContent();
    expect(xml?.match(/<hostdev mode='subsystem' type='pci' managed='no'>/g)).toHaveLength(4);
    expect(await configHostdevs()).toEqual(FUNCTIONS);
    await vms.getByRole('row', { name: new RegExp(`${VM}.*0000:2b:00\\.3`) }).waitFor({ timeout: 30_000 });
  }, 120_000);

  it('detaches them again from step 5, then restores the host drivers', async () => {
    await page.getByRole('button', { name: 'Detach from VM' }).click();
    await status(new RegExp(`Detached from ${VM}`)).waitFor({ timeout: 60_000 });
    expect(await configHostdevs()).toEqual([]);
    await page.getByRole('button', { name: 'Restore host drivers' }).click();
    await status(/restore done/).waitFor({ timeout: 60_000 });
  }, 120_000);
});
