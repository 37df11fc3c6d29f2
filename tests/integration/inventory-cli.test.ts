import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/shared/contract/inventory';
import { buildFakeSysfs } from '../helpers/fake-sysfs';

const repo = resolve(__dirname, '../..');
const fixtures = join(repo, 'tests/fixtures/nvidia-smi-xml');
let tmp: string;

function cli(...args: string[]) {
  const r = spawnSync('node', [join(repo, 'out/cli/index.mjs'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync('node', ['scripts/build-cli.mjs'], { cwd: repo, stdio: 'pipe' });
  tmp = mkdtempSync(join(tmpdir(), 'gb-inv-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('gpu-bridge inventory --from', () => {
  it('gives one record per fixture GPU from snapshots holding only cmd/nvidia-smi.xml', () => {
    const expected: Record<string, [string, string, number, string | null, boolean]> = {
      'telegraf__a100-sxm4-v12.xml': ['0000:01:00.0', 'NVIDIA A100-SXM4-80GB', 85899345920, '535.54.03', false],
      'telegraf__gtx-1070-ti.xml': ['0000:01:00.0', 'GeForce GTX 1070 Ti', 4294967296, null, true],
      'telegraf__rtx-3080-v13.xml': ['0000:0c:00.0', 'NVIDIA GeForce RTX 3080', 10737418240, '595.58.03', true],
      'telegraf__tesla-t4.xml': ['0000:00:1e.0', 'Tesla T4', 16106127360, '515.105.01', true],
      'telegraf__tesla_p4.xml': ['0000:00:0b.0', 'GRID P4-1Q', 1073741824, '513.46', true],
    };
    for (const [file, [address, name, mem, driver, h264]] of Object.entries(expected)) {
      const dir = join(tmp, file);
      mkdirSync(join(dir, 'cmd'), { recursive: true });
      cpSync(join(fixtures, file), join(dir, 'cmd', 'nvidia-smi.xml'));
      const r = cli('inventory', '--json', '--from', dir);
      expect(r.code, r.stderr).toBe(0);
      const inv = Inventory.parse(JSON.parse(r.stdout));
      expect(inv.gpus).toHaveLength(1);
      expect(inv.gpus[0]).toMatchObject({ address, name, vendor: 'nvidia', memoryTotalBytes: mem });
      expect(inv.gpus[0]?.nvidia?.driverVersion).toBe(driver);
      expect(inv.gpus[0]?.encoders.h264).toBe(h264);
      expect(inv.gpus[0]?.encoders.av1).toBe(false);
    }
  });

  it('prints a table from a fake sysfs snapshot, and reads a .tar.gz written by gpu-bridge snapshot', async () => {
    const src = join(tmp, 'fake-host');
    await buildFakeSysfs(src, {
      devices: [
        { address: '0000:00:01.0', vendor: '8086', device: '1901', class: '060400', driver: 'pcieport', iommuGroup: 1 },
        { address: '0000:01:00.0', vendor: '10de', device: '1401', class: '030000', driver: 'nvidia', iommuGroup: 1, bootVga: true },
        { address: '0000:01:00.1', vendor: '10de', device: '0fba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 1 },
      ],
      cpuinfo: 'processor : 0\nmodel name : Intel(R) Core(TM) i7-6700K CPU @ 4.00GHz\nflags : fpu vmx\n',
      acpiTables: ['DMAR'],
    });
    const table = cli('inventory', '--from', src);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ADDRESS\s+VENDOR\s+NAME/m);
    expect(table.stdout).toMatch(/0000:01:00\.0\s+nvidia\s+\S.*nvidia\s+1 \(3\)\s+yes/);
    expect(table.stdout).toContain('0000:00:01.0 [060400] pcieport (bridge)');
    expect(table.stdout).toContain('IOMMU table DMAR');

    const archive = join(tmp, 'snap.tar.gz');
    const snap = cli('snapshot', '--out', archive, '--root', src);
    expect(snap.code, snap.stderr).toBe(0);
    expect(snap.stdout).toMatch(/wrote .*snap\.tar\.gz \(\d+ files\)/);
    const r = cli('inventory', '--json', '--from', archive);
    expect(r.code, r.stderr).toBe(0);
    const inv = Inventory.parse(JSON.parse(r.stdout));
    expect(inv.gpus[0]).toMatchObject({ address: '0000:01:00.0', iommuGroup: 1, bootVga: true, driver: 'nvidia', encoders: { h264: true, hevc: true, av1: false } });
    expect(inv.gpus[0]?.groupMembers.map((m) => m.address)).toEqual(['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']);
  });

  it('fails cleanly, without a stack trace, on a missing or corrupt snapshot', () => {
    const missing = cli('inventory', '--from', join(tmp, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot open snapshot .*no such file or directory/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const bad = join(tmp, 'bad.tar.gz');
    writeFileSync(bad, 'not a tarball');
    const corrupt = cli('inventory', '--from', bad);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/cannot open snapshot/);
    expect(corrupt.stderr).not.toMatch(/\n\s+at /);
  });

  it('runs live on this machine (whatever it has) and prints a host line', () => {
    const r = cli('inventory', '--json');
    expect(r.code, r.stderr).toBe(0);
    const inv = Inventory.parse(JSON.parse(r.stdout));
    expect(inv.host.cpuCores).toBeGreaterThan(0);
    if (inv.gpus.length === 0) console.log('inventory-cli: this machine has no GPU; live run checked for shape only');
  });
});
