import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakePciDevice } from '../../helpers/fake-sysfs';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'iommu-groups');
export const Z170 = '64kramsystem-vga-passthrough__asrock-z170-gaming-itx-ac__gtx960.txt';
export const B550 = '64kramsystem-vga-passthrough__msi-mag-b550m-mortar__rtx2070super-gt710.txt';

/** The driver a typical Linux host has on a device of this class and vendor (the fixtures list none). */
function typicalDriver(klass: string, vendor: string): string | undefined {
  if (klass === '0604') return 'pcieport';
  if (klass.startsWith('03')) return vendor === '10de' ? 'nouveau' : vendor === '8086' ? 'i915' : 'amdgpu';
  if (klass === '0403') return 'snd_hda_intel';
  if (klass === '0c03') return 'xhci_hcd';
  if (klass === '0106') return 'ahci';
  if (klass === '0200') return vendor === '10ec' ? 'r8169' : 'e1000e';
  if (klass === '0c80') return 'nvidia-gpu';
  return undefined;
}

/** Turns an `lspci -nn` listing per IOMMU group (the fixtures' format) into fake-sysfs devices. */
export async function fixtureDevices(name: string): Promise<FakePciDevice[]> {
  const text = await readFile(join(FIXTURES, name), 'utf8');
  const devices: FakePciDevice[] = [];
  let group: number | undefined;
  for (const line of text.split('\n')) {
    const g = /^IOMMU group (\d+)/.exec(line);
    if (g) {
      group = Number(g[1]);
      continue;
    }
    const d = /^\s+([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) .*?\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}):([0-9a-f]{4})\]/.exec(line);
    if (!d || group === undefined) continue;
    const [, bdf, klass, vendor, device] = d as unknown as [string, string, string, string, string];
    const driver = typicalDriver(klass, vendor);
    devices.push({ address: `0000:${bdf}`, vendor, device, class: `${klass}00`, iommuGroup: group, ...(driver ? { driver } : {}) });
  }
  return devices;
}
