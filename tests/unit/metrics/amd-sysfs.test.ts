import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amdgpuAddresses, detectMetricsSource } from '../../../src/core/metrics/handlers';
import { AmdSysfsSource } from '../../../src/core/metrics/sources';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gb-amd-'));
  await buildFakeSysfs(root, { devices: [{ address: '0000:03:00.0', vendor: '1002', device: '73bf', class: '030000', driver: 'amdgpu', iommuGroup: 5 }] });
  const dev = join(root, 'sys', 'bus', 'pci', 'devices', '0000:03:00.0');
  symlinkSync(dev, join(root, 'sys', 'bus', 'pci', 'drivers', 'amdgpu', '0000:03:00.0'));
  writeFileSync(join(dev, 'gpu_busy_percent'), '37\n');
  writeFileSync(join(dev, 'mem_busy_percent'), '4\n');
  writeFileSync(join(dev, 'mem_info_vram_used'), '1073741824\n');
  writeFileSync(join(dev, 'mem_info_vram_total'), '17163091968\n');
  const hwmon = join(dev, 'hwmon', 'hwmon3');
  mkdirSync(hwmon, { recursive: true });
  writeFileSync(join(hwmon, 'temp1_input'), '48000\n');
  writeFileSync(join(hwmon, 'power1_average'), '61000000\n');
  writeFileSync(join(hwmon, 'pwm1'), '255\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('AMD through amdgpu sysfs and hwmon', () => {
  it('finds GPUs bound to amdgpu and reads their series in base units', async () => {
    expect(amdgpuAddresses(root)).toEqual(['0000:03:00.0']);
    const source = detectMetricsSource('', root);
    expect(source?.kind === 'sysfs' || source?.kind === 'nvml').toBe(true); // nvml only where a real driver is present
    const readings = await new AmdSysfsSource(['0000:03:00.0'], root).read();
    expect(readings).toEqual([
      {
        address: '0000:03:00.0',
        name: null,
        values: { gpuUtilPercent: 37, memoryUtilPercent: 4, memoryUsedBytes: 1073741824, memoryTotalBytes: 17163091968, temperatureC: 48, powerW: 61, fanPercent: 100 },
      },
    ]);
  });
  it('a GPU whose files vanished reads as nulls, not a crash', async () => {
    const [r] = await new AmdSysfsSource(['0000:09:00.0'], root).read();
    expect(Object.values(r?.values ?? {}).every((v) => v === null)).toBe(true);
  });
});
