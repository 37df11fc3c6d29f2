import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIommuListing, writeListingSnapshot, type ListingDevice, type ListingSnapshotResult } from '../../../src/core/inventory/iommu-listing';
import type { FakePciDevice } from '../../helpers/fake-sysfs';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'iommu-groups');
export const Z170 = '64kramsystem-vga-passthrough__asrock-z170-gaming-itx-ac__gtx960.txt';
export const B550 = '64kramsystem-vga-passthrough__msi-mag-b550m-mortar__rtx2070super-gt710.txt';

/** The driver a typical Linux host has on a device of this class and vendor (the fixtures list none). */
export function typicalDriver(klass: string, vendor: string): string | undefined {
  if (klass === '0604') return 'pcieport';
  if (klass.startsWith('03')) return vendor === '10de' ? 'nouveau' : vendor === '8086' ? 'i915' : 'amdgpu';
  if (klass === '0403') return 'snd_hda_intel';
  if (klass === '0c03') return 'xhci_hcd';
  if (klass === '0106') return 'ahci';
  if (klass === '0200') return vendor === '10ec' ? 'r8169' : 'e1000e';
  if (klass === '0c80') return 'nvidia-gpu';
  return undefined;
}

/** The typical driver of a parsed listing device (none when its class or vendor is unknown). */
export function listingDriver(d: ListingDevice): string | undefined {
  return d.classCode === null ? undefined : typicalDriver(d.classCode, d.vendorId ?? '');
}

export async function readListing(name: string): Promise<ReturnType<typeof parseIommuListing>> {
  return parseIommuListing(await readFile(join(FIXTURES, name), 'utf8'));
}

/** Turns an `lspci -nn` listing per IOMMU group (the fixtures' format) into fake-sysfs devices. */
export async function fixtureDevices(name: string): Promise<FakePciDevice[]> {
  const { devices } = await readListing(name);
  return devices
    .filter((d) => d.classCode !== null && d.vendorId !== null && d.deviceId !== null)
    .map((d) => {
      const klass = d.classCode as string;
      const vendor = d.vendorId as string;
      const driver = typicalDriver(klass, vendor);
      return { address: d.address, vendor, device: d.deviceId as string, class: `${klass}00`, iommuGroup: d.group, ...(driver ? { driver } : {}) };
    });
}

/** Writes the host snapshot of a fixture listing under `root` (typical drivers) and returns the parse and whether it got a tree. */
export async function listingRoot(name: string, root: string): Promise<ReturnType<typeof parseIommuListing> & { snapshot: ListingSnapshotResult }> {
  const parsed = await readListing(name);
  const snapshot = await writeListingSnapshot(root, parsed.devices, { drivers: listingDriver });
  return { ...parsed, snapshot };
}
