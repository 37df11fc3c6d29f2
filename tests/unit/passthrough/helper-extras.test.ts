// The privileged helper with the smallest set: a bind moves the GPU's group and its audio only; an
// optional function moves only when asked for (--with), and the restore puts back exactly what the bind
// took, read from its record. Runs against the fake kernel (tests/helpers/fake-kernel.mjs) on a fake tree.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHelper } from '../../../src/helper/helper';
import { linkName } from '../../../src/helper/sysfs';
import { buildFakeSysfs, type FakePciDevice } from '../../helpers/fake-sysfs';

const APU: FakePciDevice[] = [
  { address: '0000:07:00.0', vendor: '1002', device: '1638', class: '030000', driver: 'amdgpu', iommuGroup: 5 },
  { address: '0000:07:00.1', vendor: '1002', device: '1637', class: '040300', driver: 'snd_hda_intel', iommuGroup: 6 },
  { address: '0000:07:00.2', vendor: '1022', device: '15df', class: '108000', driver: 'ccp', iommuGroup: 7 },
  { address: '0000:07:00.3', vendor: '1022', device: '1639', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 8 },
  { address: '0000:07:00.4', vendor: '1022', device: '1639', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 9 },
  { address: '0000:07:00.6', vendor: '1022', device: '15e3', class: '040300', driver: 'snd_hda_intel', iommuGroup: 10 },
];
const NATIVE = Object.fromEntries(APU.map((d) => [d.address, d.driver]));

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gb-helper-extras-'));
  await buildFakeSysfs(join(dir, 'root'), { devices: APU, modules: ['vfio_pci'] });
  await mkdir(join(dir, 'root', 'sys/bus/pci/drivers/vfio-pci'), { recursive: true }); // vfio-pci is loaded
  env = {
    GPU_BRIDGE_HELPER_ROOT: join(dir, 'root'),
    GPU_BRIDGE_HELPER_STATE_DIR: join(dir, 'state'),
    GPU_BRIDGE_HELPER_WRITER: resolve(__dirname, '../../helpers/fake-kernel.mjs'),
    GPU_BRIDGE_FAKE_KERNEL_DRIVERS: JSON.stringify(NATIVE),
  };
  // the fake kernel is a child of this process: it reads the tree and the native drivers from its environment
  Object.assign(process.env, env);
});
afterEach(async () => {
  for (const name of Object.keys(env)) delete process.env[name];
  await rm(dir, { recursive: true, force: true });
});

const drivers = () => Object.fromEntries(APU.map((d) => [d.address, linkName(join(dir, 'root', 'sys', 'bus', 'pci', 'devices', d.address, 'driver'))]));

describe('helper: the smallest set and the extras asked for', () => {
  it('bind without --with leaves the PSP, both USB controllers and the chipset audio on their drivers; restore gives back the two', async () => {
    const bound = await runHelper(['bind', '0000:07:00.0'], env);
    expect(bound.result.error).toBeNull();
    expect(bound.result.devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1']);
    expect(drivers()).toEqual({ ...NATIVE, '0000:07:00.0': 'vfio-pci', '0000:07:00.1': 'vfio-pci' });
    const restored = await runHelper(['restore', '0000:07:00.0'], env);
    expect(restored.result.ok).toBe(true);
    expect(drivers()).toEqual(NATIVE);
  }, 30_000);

  it('bind --with the USB controller moves it too; restore (without --with) reads the record and gives all three back', async () => {
    const bound = await runHelper(['bind', '0000:07:00.0', '--with', '0000:07:00.3'], env);
    expect(bound.result.error).toBeNull();
    expect(drivers()).toEqual({ ...NATIVE, '0000:07:00.0': 'vfio-pci', '0000:07:00.1': 'vfio-pci', '0000:07:00.3': 'vfio-pci' });
    const audit = await readFile(join(dir, 'state', 'audit.jsonl'), 'utf8');
    expect(audit).toContain('(asked for: 0000:07:00.3)');
    const restored = await runHelper(['restore', '0000:07:00.0'], env);
    expect(restored.result.ok).toBe(true);
    expect(restored.result.devices.map((d) => d.address)).toEqual(['0000:07:00.0', '0000:07:00.1', '0000:07:00.3']);
    expect(drivers()).toEqual(NATIVE);
  }, 30_000);
});
