import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseBusId, NvidiaSmiXmlError, parseNvidiaSmiXml } from '../../../src/core/inventory/nvidia-smi-xml';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/nvidia-smi-xml', name), 'utf8');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('parseNvidiaSmiXml on real captures', () => {
  it('A100-SXM4-80GB, dtd v12, MIG enabled with 4 instances', () => {
    const log = parseNvidiaSmiXml(fixture('telegraf__a100-sxm4-v12.xml'));
    expect(log).toMatchObject({ dtdVersion: 12, driverVersion: '535.54.03', cudaVersion: '12.2' });
    expect(log.gpus).toHaveLength(1);
    const g = log.gpus[0];
    expect(g).toMatchObject({
      address: '0000:01:00.0', name: 'NVIDIA A100-SXM4-80GB', brand: 'NVIDIA', architecture: 'Ampere',
      uuid: 'GPU-513536b6-7d19-9063-b049-1e69664bb298', deviceId: '20b2', vendorId: '10de', subsystemDeviceId: '147f',
      migMode: 'Enabled', virtualizationMode: 'None', memoryTotalBytes: 80 * GiB, memoryUsedBytes: 50 * MiB,
      temperatureC: 27, powerDrawW: 67.03, powerLimitW: 500, encoderSessions: 0,
      pcie: { currentGen: 4, maxGen: 4, currentWidth: 16, maxWidth: 16 },
    });
    expect(g?.migDevices.map((d) => d.gpuInstanceId)).toEqual([3, 4, 5, 6]);
    expect(g?.migDevices[0]).toEqual({ index: 0, gpuInstanceId: 3, computeInstanceId: 0, memoryTotalBytes: 19968 * MiB, memoryUsedBytes: 12 * MiB, multiprocessorCount: 14 });
  });

  it('GeForce GTX 1070 Ti, dtd v10: most elements absent read as null', () => {
    const log = parseNvidiaSmiXml(fixture('telegraf__gtx-1070-ti.xml'));
    expect(log).toMatchObject({ dtdVersion: 10, driverVersion: null, cudaVersion: null });
    expect(log.gpus[0]).toMatchObject({
      address: '0000:01:00.0', name: 'GeForce GTX 1070 Ti', brand: null, architecture: null, deviceId: null,
      uuid: 'GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665', memoryTotalBytes: 4096 * MiB, memoryUsedBytes: 42 * MiB,
      temperatureC: 39, powerDrawW: null, powerLimitW: null, fanPercent: 100, migMode: null,
      clocksMHz: { graphics: 135, sm: 135, memory: 405, video: 405 },
      pcie: { currentGen: 1, maxGen: null, currentWidth: 16, maxWidth: null },
    });
  });

  it('GeForce RTX 3080, dtd v13: new power element names, bus id in upper-case hex', () => {
    const log = parseNvidiaSmiXml(fixture('telegraf__rtx-3080-v13.xml'));
    expect(log).toMatchObject({ dtdVersion: 13, driverVersion: '595.58.03', cudaVersion: '13.2' });
    expect(log.gpus[0]).toMatchObject({
      address: '0000:0c:00.0', name: 'NVIDIA GeForce RTX 3080', brand: 'GeForce', architecture: 'Ampere', deviceId: '2216',
      subsystemVendorId: '19da', subsystemDeviceId: '1612', memoryTotalBytes: 10 * GiB, memoryUsedBytes: 9184 * MiB,
      temperatureC: 27, powerDrawW: 142.33, powerLimitW: 320, fanPercent: 0, migMode: null,
      utilization: { gpu: 65, memory: 9, encoder: 0, decoder: 0 },
      clocksMHz: { graphics: 1950, sm: 1950, memory: 9251, video: 1710 },
    });
  });

  it('Tesla T4 as a cloud VM guest (Pass-Through), dtd v11', () => {
    const log = parseNvidiaSmiXml(fixture('telegraf__tesla-t4.xml'));
    expect(log).toMatchObject({ dtdVersion: 11, driverVersion: '515.105.01', cudaVersion: '11.7' });
    expect(log.gpus[0]).toMatchObject({
      address: '0000:00:1e.0', name: 'Tesla T4', architecture: 'Turing', deviceId: '1eb8', virtualizationMode: 'Pass-Through',
      memoryTotalBytes: 15360 * MiB, memoryUsedBytes: 1032 * MiB, temperatureC: 40, powerDrawW: 26.78, powerLimitW: 70,
      pcie: { currentGen: 3, maxGen: 3, currentWidth: 8, maxWidth: 16 },
    });
  });

  it('GRID P4-1Q vGPU slice: N/A power and link read as null, 2 encoder sessions', () => {
    const log = parseNvidiaSmiXml(fixture('telegraf__tesla_p4.xml'));
    expect(log).toMatchObject({ driverVersion: '513.46', cudaVersion: '11.6' });
    expect(log.gpus[0]).toMatchObject({
      address: '0000:00:0b.0', name: 'GRID P4-1Q', brand: 'NVIDIA RTX Virtual Workstation', architecture: 'Pascal',
      deviceId: '1bb3', virtualizationMode: 'VGPU', memoryTotalBytes: 1 * GiB, memoryUsedBytes: 807 * MiB,
      powerDrawW: null, powerLimitW: null, encoderSessions: 2,
      pcie: { currentGen: null, maxGen: null, currentWidth: null, maxWidth: null },
    });
  });
});

describe('malformed input', () => {
  it('rejects truncated XML with a clear error', () => {
    const xml = fixture('telegraf__tesla-t4.xml');
    expect(() => parseNvidiaSmiXml(xml.slice(0, xml.length / 2))).toThrow(NvidiaSmiXmlError);
    expect(() => parseNvidiaSmiXml('')).toThrow(NvidiaSmiXmlError);
    expect(() => parseNvidiaSmiXml('<other/>')).toThrow(/nvidia_smi_log/);
  });
  it('an empty log has no GPUs', () => {
    expect(parseNvidiaSmiXml('<nvidia_smi_log><attached_gpus>0</attached_gpus></nvidia_smi_log>').gpus).toEqual([]);
  });
});

describe('normaliseBusId', () => {
  it('keeps the low four domain digits and lower-cases', () => {
    expect(normaliseBusId('00000000:01:00.0')).toBe('0000:01:00.0');
    expect(normaliseBusId('00000000:0C:00.0')).toBe('0000:0c:00.0');
    expect(normaliseBusId('0000:65:00.1')).toBe('0000:65:00.1');
    expect(normaliseBusId('00010000:01:00.0')).toBeNull();
    expect(normaliseBusId('01:00.0')).toBeNull();
    expect(normaliseBusId(null)).toBeNull();
  });
});
