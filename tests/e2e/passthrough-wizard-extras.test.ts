// The Passthrough wizard in Chromium on a FAKE sysfs shaped like an AMD APU whose slot is split across
// IOMMU groups (as published listings show: tests/fixtures/iommu-groups/*cezanne*): the iGPU and its
// HDMI audio move; the USB controllers (one with the owner's keyboard behind it) and the chipset audio
// stay unticked with their reasons, the PSP is shown as the host's and not offered; ticking the keyboard's
// controller warns, with the sysfs evidence, and bind then moves it too; restore gives everything back.
// The same host's Intel-style SR-IOV GPU offers its virtual functions instead. An Arc A310 sits behind
// its own PCIe switch (the layout of the A310 in tests/fixtures/iommu-groups/Sean-Mitchell-*, nested
// under sys/devices as the kernel has it): its audio on the next bus moves with it. The real helper runs
// on the tree through tests/helpers/fake-kernel.mjs (see passthrough-wizard-fake-sysfs.test.ts).
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { buildFakeSysfs, type FakePciDevice } from '../helpers/fake-sysfs';
import { startFakeHostServe } from '../helpers/fake-host-serve';
import type { ServeHandle } from '../helpers/spawn-cli';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/passthrough-wizard-extras: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

const IGPU = '0000:07:00.0';
const USB = '0000:07:00.3';
const ARC = '0000:05:00.0';
const ARC_AUDIO = '0000:06:00.0';
const DEVICES: FakePciDevice[] = [
  { address: '0000:07:00.0', vendor: '1002', device: '1638', class: '030000', driver: 'amdgpu', iommuGroup: 5 },
  { address: '0000:07:00.1', vendor: '1002', device: '1637', class: '040300', driver: 'snd_hda_intel', iommuGroup: 6 },
  { address: '0000:07:00.2', vendor: '1022', device: '15df', class: '108000', driver: 'ccp', iommuGroup: 7 },
  {
    address: USB,
    vendor: '1022',
    device: '1639',
    class: '0c0330',
    driver: 'xhci_hcd',
    iommuGroup: 8,
    files: { 'usb3/3-2/product': 'USB Keyboard\n', 'usb3/3-2/3-2:1.0/bInterfaceClass': '03\n', 'usb3/3-2/3-2:1.0/0003:04D9:1702.0001/input/input5/name': 'HID 04d9:1702\n' },
  },
  { address: '0000:07:00.4', vendor: '1022', device: '1639', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 9 },
  { address: '0000:07:00.6', vendor: '1022', device: '15e3', class: '040300', driver: 'snd_hda_intel', iommuGroup: 10 },
  { address: '0000:00:02.0', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 0, sriovTotalVfs: 7, bootVga: true },
  { address: '0000:00:02.1', vendor: '8086', device: '46a6', class: '030000', driver: 'i915', iommuGroup: 20, physfn: '0000:00:02.0' },
  // Arc A310: chipset port 00:1c.0, the card's switch 03:00.0 (4fa1) with its ports 04:01.0 and 04:04.0 (4fa4), all one group
  { address: '0000:00:1c.0', vendor: '8086', device: '7ab8', class: '060400', driver: 'pcieport', iommuGroup: 31 },
  { address: '0000:03:00.0', vendor: '8086', device: '4fa1', class: '060400', driver: 'pcieport', iommuGroup: 31, parents: ['0000:00:1c.0'] },
  { address: '0000:04:01.0', vendor: '8086', device: '4fa4', class: '060400', driver: 'pcieport', iommuGroup: 31, parents: ['0000:00:1c.0', '0000:03:00.0'] },
  { address: '0000:04:04.0', vendor: '8086', device: '4fa4', class: '060400', driver: 'pcieport', iommuGroup: 31, parents: ['0000:00:1c.0', '0000:03:00.0'] },
  { address: ARC, vendor: '8086', device: '56a6', class: '030000', driver: 'i915', iommuGroup: 31, parents: ['0000:00:1c.0', '0000:03:00.0', '0000:04:01.0'] },
  { address: ARC_AUDIO, vendor: '8086', device: '4f92', class: '040300', driver: 'snd_hda_intel', iommuGroup: 31, parents: ['0000:00:1c.0', '0000:03:00.0', '0000:04:04.0'] },
];
const NATIVE = Object.fromEntries(DEVICES.map((d) => [d.address, d.driver]));
const SLOT = ['0000:07:00.0', '0000:07:00.1', '0000:07:00.2', USB, '0000:07:00.4', '0000:07:00.6'];

describe.skipIf(!haveChromium)('Passthrough wizard: optional functions of a split slot, what the host loses, virtual functions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gb-wizard-extras-'));
  const root = join(dir, 'host');
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
  const slotDrivers = async () => Object.fromEntries(await Promise.all(SLOT.map(async (bdf) => [bdf, await driverOf(bdf)])));
  const planRows = async () => (await page.getByRole('table', { name: 'Devices that move to vfio-pci' }).locator('tbody tr td:first-child').allTextContents()).map((t) => t.trim());
  const status = () =>
    page
      .getByRole('status')
      .filter({ hasText: /(bind|restore) (done|failed)/ })
      .first()
      .textContent({ timeout: 1_000 })
      .catch(() => '');

  beforeAll(async () => {
    await buildFakeSysfs(root, { devices: DEVICES, modules: ['vfio', 'vfio_pci', 'vfio_iommu_type1'], cmdline: 'root=/dev/nvme0n1p2 amd_iommu=on', cpuinfo: 'flags\t: fpu svm sse\n', acpiTables: ['IVRS'] });
    await mkdir(join(root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true });
    serve = await startFakeHostServe(dir, root, NATIVE);
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.cli.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the iGPU\'s plan moves it and its HDMI audio; the other three functions are offered unticked, each with its reason; the PSP is the host\'s', async () => {
    await page.goto(`${serve.url}#/passthrough`);
    await page.getByRole('radio', { name: new RegExp(IGPU.replace(/\./g, '\\.')) }).click();
    await expect.poll(planRows, { timeout: 20_000 }).toEqual(['0000:07:00.0', '0000:07:00.1']);
    const boxes = page.getByRole('checkbox');
    await expect.poll(() => boxes.count(), { timeout: 10_000 }).toBe(3);
    expect(await page.locator('label', { hasText: '0000:07:00.2' }).count()).toBe(0);
    expect(await page.getByLabel('Functions that stay with the host').textContent()).toMatch(/0000:07:00\.2 \(crypto\) — the platform security processor/);
    for (const box of await boxes.all()) expect(await box.isChecked()).toBe(false);
    const usb = page.locator('label', { hasText: USB });
    expect(await usb.textContent()).toMatch(/usb, xhci_hcd, IOMMU group 8.*own IOMMU group \(8\).*stays on the host.*The host would lose: input device "HID 04d9:1702"/s);
  });

  it('ticking the keyboard\'s USB controller adds it to the plan and warns that the host loses its input device, with the sysfs file', async () => {
    await page.locator('label', { hasText: USB }).getByRole('checkbox').check();
    await expect.poll(planRows, { timeout: 20_000 }).toEqual(['0000:07:00.0', '0000:07:00.1', USB]);
    const warning = page.locator('.finding', { hasText: 'input devices behind it' });
    await warning.waitFor({ timeout: 10_000 });
    expect(await warning.textContent()).toContain(`/sys/bus/pci/devices/${USB}/usb3/3-2/3-2:1.0/0003:04D9:1702.0001/input/input5/name: HID 04d9:1702`);
  });

  it('bind moves exactly the three; restore gives all of them back', async () => {
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/bind done/);
    expect(await slotDrivers()).toEqual({ ...Object.fromEntries(SLOT.map((b) => [b, NATIVE[b]])), '0000:07:00.0': 'vfio-pci', '0000:07:00.1': 'vfio-pci', [USB]: 'vfio-pci' });
    await page.getByRole('button', { name: 'Restore host drivers' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/restore done/);
    expect(await slotDrivers()).toEqual(Object.fromEntries(SLOT.map((b) => [b, NATIVE[b]])));
  });

  it('the SR-IOV GPU offers its virtual functions instead: remove them, enable two through the helper, choose one: the VF moves alone', async () => {
    await page.getByRole('radio', { name: /0000:00:02\.0/ }).click();
    const offer = page.getByRole('group', { name: 'Pass a virtual function through instead' });
    await offer.waitFor({ timeout: 10_000 });
    await offer.getByRole('button', { name: 'Use 0000:00:02.1' }).waitFor({ timeout: 10_000 });
    await offer.getByRole('button', { name: 'Remove the virtual functions' }).click();
    await offer.getByText('0000:00:02.0 now has 0 virtual functions.').waitFor({ timeout: 30_000 });
    expect(await readdir(join(root, 'sys/bus/pci/devices'))).not.toContain('0000:00:02.1');
    await offer.getByRole('spinbutton').fill('2');
    await offer.getByRole('button', { name: 'Enable 2 virtual functions' }).click();
    await offer.getByText('0000:00:02.0 now has 2 virtual functions.').waitFor({ timeout: 30_000 });
    await offer.getByRole('button', { name: 'Use 0000:00:02.2' }).click();
    await expect.poll(planRows, { timeout: 20_000 }).toEqual(['0000:00:02.2']);
    await page.getByText('a virtual function of 0000:00:02.0, which keeps its driver').waitFor({ timeout: 5_000 });
    expect(await driverOf('0000:00:02.0')).toBe('i915');
  });

  it('the Arc A310 behind its own switch: its audio on the next bus moves with it, and bind and restore take both', async () => {
    await page.getByRole('radio', { name: new RegExp(ARC.replace(/\./g, '\\.')) }).click();
    await expect.poll(planRows, { timeout: 20_000 }).toEqual([ARC, ARC_AUDIO]);
    const table = page.getByRole('table', { name: 'Devices that move to vfio-pci' });
    expect(await table.locator('tbody tr', { hasText: ARC_AUDIO }).textContent()).toContain("behind the card's own switch 0000:03:00.0");
    await page.getByText('The card carries its own PCIe switch').waitFor({ timeout: 5_000 });
    expect(await page.locator('.finding-blocker').count()).toBe(0);
    await page.getByRole('button', { name: 'Bind to vfio-pci' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/bind done/);
    expect([await driverOf(ARC), await driverOf(ARC_AUDIO), await driverOf('0000:03:00.0')]).toEqual(['vfio-pci', 'vfio-pci', 'pcieport']);
    await page.getByRole('button', { name: 'Restore host drivers' }).click();
    await expect.poll(status, { timeout: 60_000 }).toMatch(/restore done/);
    expect([await driverOf(ARC), await driverOf(ARC_AUDIO)]).toEqual(['i915', 'snd_hda_intel']);
  });
});
