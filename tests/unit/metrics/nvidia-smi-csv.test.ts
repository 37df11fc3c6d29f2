import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseQueryFields, parseCell, parseHelpQueryGpu, parseQueryGpuCsv, QueryGpuCsvParser, type CsvRow } from '../../../src/core/metrics/nvidia-smi-csv';

const fx = (dir: string, name: string) => readFileSync(join(__dirname, '../../fixtures', dir, name), 'utf8');
const MiB = 1024 ** 2;
const H100 = 'utkuozdemir__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01';
const L40S = 'utkuozdemir__linux-x86_64__nvidia-l40s__595.80';

describe('--query-gpu CSV captures', () => {
  it('H100 idle: units in the header and cells, [N/A] fan → null', () => {
    const [row] = parseQueryGpuCsv(fx('nvidia-smi-csv', `${H100}.idle-query-gpu.csv`));
    expect(row).toEqual({
      address: '0000:00:09.0',
      name: 'NVIDIA H100 80GB HBM3',
      values: {
        gpuUtilPercent: 0, memoryUtilPercent: 0, encoderUtilPercent: 0, decoderUtilPercent: 0,
        memoryUsedBytes: 0, memoryTotalBytes: 81559 * MiB, temperatureC: 41, powerW: 69.85, powerLimitW: 700,
        graphicsClockMHz: 345, memoryClockMHz: 2619, fanPercent: null, encoderSessions: 0,
      },
    });
  });
  it('H100 under load', () => {
    const [row] = parseQueryGpuCsv(fx('nvidia-smi-csv', `${H100}.load-query-gpu.csv`));
    expect(row?.values).toMatchObject({ gpuUtilPercent: 100, memoryUtilPercent: 11, memoryUsedBytes: 19818 * MiB, temperatureC: 59, powerW: 631.95, graphicsClockMHz: 1980 });
  });
  it('L40S idle and encoding (2 NVENC sessions at 60 %)', () => {
    const [idle] = parseQueryGpuCsv(fx('nvidia-smi-csv', `${L40S}.idle-query-gpu.csv`));
    expect(idle).toMatchObject({ address: '0000:01:00.0', name: 'NVIDIA L40S' });
    expect(idle?.values).toMatchObject({ gpuUtilPercent: 100, memoryTotalBytes: 46068 * MiB, temperatureC: 63, powerW: 144.97, powerLimitW: 350, graphicsClockMHz: 2520, memoryClockMHz: 9001, fanPercent: null });
    const [load] = parseQueryGpuCsv(fx('nvidia-smi-csv', `${L40S}.load-query-gpu.csv`));
    expect(load?.values).toMatchObject({ gpuUtilPercent: 9, encoderUtilPercent: 60, decoderUtilPercent: 0, encoderSessions: 2, memoryUsedBytes: 1235 * MiB, temperatureC: 54, powerW: 110.23 });
  });
});

describe('cells', () => {
  it('reads N/A spellings as null and memory in bytes', () => {
    for (const s of ['[N/A]', 'N/A', '[Not Supported]', '[Requested functionality has been deprecated]', '[Unknown Error]', '']) expect(parseCell(s, 'powerW', 'W')).toBeNull();
    expect(parseCell('12 %', 'gpuUtilPercent', null)).toBe(12);
    expect(parseCell('1024', 'memoryUsedBytes', 'MiB')).toBe(1024 * MiB);
    expect(parseCell('2 GiB', 'memoryUsedBytes', null)).toBe(2 * 1024 ** 3);
  });
});

describe('field choice across driver versions', () => {
  it('reads both names of each --help-query-gpu entry, and picks fields this driver knows', () => {
    for (const [capture, extra] of [[`linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt`, 'gpu.power.draw.average'], ['linux-x86_64__nvidia-l40s__595.80.txt', 'clocks.gr']] as const) {
      const valid = parseHelpQueryGpu(fx('nvidia-smi-captures', capture));
      expect(valid.has('utilization.encoder')).toBe(true);
      expect(valid.has('clocks_throttle_reasons.active')).toBe(true);
      expect(valid.has(extra)).toBe(true);
      const fields = chooseQueryFields(valid);
      expect(fields.slice(0, 2)).toEqual(['pci.bus_id', 'name']);
      expect(fields).toContain('encoder.stats.sessionCount');
      expect(fields).toContain('power.draw');
    }
  });
  it('an old driver without encoder fields and with only clocks.gr', () => {
    const fields = chooseQueryFields(new Set(['pci.bus_id', 'name', 'utilization.gpu', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw', 'power.limit', 'clocks.gr', 'clocks.mem', 'fan.speed']));
    expect(fields).toEqual(['pci.bus_id', 'name', 'utilization.gpu', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw', 'power.limit', 'clocks.gr', 'clocks.mem', 'fan.speed']);
    const rows = parseQueryGpuCsv('00000000:0C:00.0, GeForce GTX 1070 Ti, 7, 42, 4096, 39, [Not Supported], 180.00, 1506, 4004, 100\n', fields);
    expect(rows[0]).toEqual({
      address: '0000:0c:00.0', name: 'GeForce GTX 1070 Ti',
      values: { gpuUtilPercent: 7, memoryUsedBytes: 42 * MiB, memoryTotalBytes: 4096 * MiB, temperatureC: 39, powerW: null, powerLimitW: 180, graphicsClockMHz: 1506, memoryClockMHz: 4004, fanPercent: 100 },
    });
  });
});

describe('the stream parser', () => {
  it('handles chunks split mid-line, CRLF, torn lines and repeated headers', () => {
    const rows: CsvRow[] = [];
    const p = new QueryGpuCsvParser((r) => rows.push(r));
    const text = 'pci.bus_id, name, utilization.gpu [%], memory.used [MiB]\r\n00000000:01:00.0, A, 5 %, 10 MiB\n00000000:02:00.0, B, 6 %\npci.bus_id, name, utilization.gpu [%], memory.used [MiB]\n00000000:01:00.0, A, 7 %, 11 MiB\n';
    for (let i = 0; i < text.length; i += 7) p.feed(text.slice(i, i + 7));
    p.end();
    expect(rows.map((r) => [r.address, r.values.gpuUtilPercent, r.values.memoryUsedBytes])).toEqual([
      ['0000:01:00.0', 5, 10 * MiB],
      ['0000:01:00.0', 7, 11 * MiB],
    ]);
  });
});
