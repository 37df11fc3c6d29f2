import { mkdtemp, readdir, readFile, readlink, lstat, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, runHelper } from '../../../src/helper/helper';
import { Refusal } from '../../../src/helper/sysfs';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';

// A host shaped like the fixture hosts (tests/fixtures/iommu-groups): the GTX 960 with its audio and its
// root port in group 1 (good), a SATA controller alone, and the B550's GT 710 sharing group 13 with
// USB, SATA and a NIC (bad).
const devices = [
  { address: '0000:00:01.0', vendor: '8086', device: '1901', class: '060400', driver: 'pcieport', iommuGroup: 1 },
  { address: '0000:01:00.0', vendor: '10de', device: '1401', class: '030000', driver: 'nouveau', iommuGroup: 1, bootVga: false },
  { address: '0000:01:00.1', vendor: '10de', device: '0fba', class: '040300', driver: 'snd_hda_intel', iommuGroup: 1 },
  { address: '0000:00:02.0', vendor: '8086', device: '1912', class: '030000', driver: 'i915', iommuGroup: 2, bootVga: true },
  { address: '0000:00:17.0', vendor: '8086', device: 'a102', class: '010601', driver: 'ahci', iommuGroup: 5 },
  { address: '0000:02:00.0', vendor: '1022', device: '43ee', class: '0c0330', driver: 'xhci_hcd', iommuGroup: 13 },
  { address: '0000:02:00.1', vendor: '1022', device: '43eb', class: '010601', driver: 'ahci', iommuGroup: 13 },
  { address: '0000:02:00.2', vendor: '1022', device: '43e9', class: '060400', driver: 'pcieport', iommuGroup: 13 },
  { address: '0000:04:00.0', vendor: '10de', device: '128b', class: '030000', driver: 'nouveau', iommuGroup: 13 },
  { address: '0000:04:00.1', vendor: '10de', device: '0e0f', class: '040300', driver: 'snd_hda_intel', iommuGroup: 13 },
  { address: '0000:2a:00.0', vendor: '10ec', device: '8125', class: '020000', driver: 'r8169', iommuGroup: 13 },
];

let dir: string;
let root: string;
let state: string;

async function snapshot(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(p: string): Promise<void> {
    const st = await lstat(p);
    if (st.isSymbolicLink()) out[p] = `-> ${await readlink(p)}`;
    else if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(join(p, name));
    else out[p] = await readFile(p, 'utf8');
  }
  await walk(path);
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gb-helper-'));
  root = join(dir, 'root');
  state = join(dir, 'state');
  await buildFakeSysfs(root, { devices, modules: ['vfio_pci'] });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GPU = '0000:01:00.0';
const hostile: Array<[string, string[]]> = [
  ['no verb', []],
  ['unknown verb', ['exec', GPU]],
  ['unbind is not a verb', ['unbind', GPU]],
  ['missing address', ['bind']],
  ['short BDF', ['bind', '01:00.0']],
  ['truncated BDF', ['bind', '0000:01:00']],
  ['extra component', ['bind', '0000:01:00.0.0']],
  ['function 8', ['bind', '0000:01:00.8']],
  ['device 0x20', ['bind', '0000:01:20.0']],
  ['uppercase hex', ['bind', '0000:0A:00.0']],
  ['overlong', ['bind', '0'.repeat(100_000)]],
  ['trailing newline', ['bind', `${GPU}\n`]],
  ['leading space', ['bind', ` ${GPU}`]],
  ['dot-dot path', ['bind', '../../../etc/passwd']],
  ['path inside address', ['bind', `${GPU}/../../../../etc`]],
  ['absolute path', ['bind', '/sys/bus/pci/devices/0000:01:00.0']],
  ['shell ;', ['bind', `${GPU}; rm -rf /`]],
  ['shell $()', ['bind', '$(reboot)']],
  ['shell backticks', ['bind', '`id`']],
  ['shell pipe', ['restore', `${GPU}|sh`]],
  ['NUL byte', ['bind', `${GPU}\u0000`]],
  ['device that does not exist', ['bind', '0000:09:00.0']],
  ['storage controller', ['bind', '0000:00:17.0']],
  ['bridge', ['bind', '0000:00:01.0']],
  ['restore a bridge', ['restore', '0000:00:01.0']],
  ['GPU in a group shared with USB, SATA and NIC', ['bind', '0000:04:00.0']],
  ['device outside the plan', ['bind', GPU, '--devices', `${GPU},0000:01:00.1,0000:00:17.0`]],
  ['bridge named in --devices', ['bind', GPU, '--devices', `${GPU},0000:01:00.1,0000:00:01.0`]],
  ['part of the plan only', ['bind', GPU, '--devices', GPU]],
  ['malformed --devices', ['bind', GPU, '--devices', `${GPU},../x`]],
  ['second target', ['bind', GPU, '0000:01:00.1']],
  ['rollback with arguments', ['rollback', GPU]],
  ['timeout out of range', ['bind', GPU, '--timeout-ms', '999999999']],
  ['unknown option', ['bind', GPU, '--root', '/tmp']],
  ['--with a device that is not a function of the card', ['bind', GPU, '--with', '0000:00:17.0']],
  ['--with a device of a shared group', ['bind', GPU, '--with', '0000:04:00.1']],
  ['malformed --with', ['bind', GPU, '--with', `${GPU},$(id)`]],
  ['--with without a list', ['bind', GPU, '--with']],
  ['--with nine addresses', ['bind', GPU, '--with', Array.from({ length: 9 }, (_, i) => `0000:01:00.${i % 8}`).join(',')]],
  ['rollback --with', ['rollback', '--with', GPU]],
  ['sriov without a count', ['sriov', GPU]],
  ['sriov without anything', ['sriov']],
  ['sriov count before the address', ['sriov', '2', GPU]],
  ['sriov negative count', ['sriov', GPU, '-1']],
  ['sriov leading zero', ['sriov', GPU, '02']],
  ['sriov hex count', ['sriov', GPU, '0x2']],
  ['sriov exponent', ['sriov', GPU, '1e1']],
  ['sriov fraction', ['sriov', GPU, '2.0']],
  ['sriov count with a space', ['sriov', GPU, ' 2']],
  ['sriov count with a newline', ['sriov', GPU, '2\n']],
  ['sriov count and shell', ['sriov', GPU, '2;reboot']],
  ['sriov empty count', ['sriov', GPU, '']],
  ['sriov huge count', ['sriov', GPU, '999999999999']],
  ['sriov two counts', ['sriov', GPU, '1', '2']],
  ['sriov --with', ['sriov', GPU, '1', '--with', '0000:01:00.1']],
  ['sriov --devices', ['sriov', GPU, '1', '--devices', GPU]],
  ['sriov path as address', ['sriov', '../../../../dev/sda', '1']],
  ['sriov of a device without SR-IOV', ['sriov', GPU, '1']],
  ['sriov of a device that does not exist', ['sriov', '0000:09:00.0', '0']],
];

describe('privileged helper: hostile inputs', () => {
  it.each(hostile)('refuses %s and writes nothing', async (_name, argv) => {
    const before = await snapshot(root);
    const { exitCode, result } = await runHelper(argv, { GPU_BRIDGE_HELPER_ROOT: root, GPU_BRIDGE_HELPER_STATE_DIR: state });
    expect(exitCode).toBe(2);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('REFUSED');
    expect(result.error?.message.length).toBeGreaterThan(10);
    expect(result.steps).toEqual([]);
    expect(await snapshot(root)).toEqual(before);
    // no journal was started
    await expect(lstat(join(state, 'journal.json'))).rejects.toThrow();
  });

  it('names the devices that share a bad group', async () => {
    const { result } = await runHelper(['bind', '0000:04:00.0'], { GPU_BRIDGE_HELPER_ROOT: root, GPU_BRIDGE_HELPER_STATE_DIR: state });
    for (const d of ['0000:02:00.0', '0000:02:00.1', '0000:2a:00.0']) expect(result.error?.message).toContain(d);
    expect(result.error?.message).not.toContain('0000:02:00.2'); // the bridge is not a blocker
  });

  it('audits every refusal', async () => {
    const lines = (await readFile(join(state, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { result: string; action: string });
    expect(lines.length).toBeGreaterThanOrEqual(hostile.length - 1);
    expect(lines.every((l) => l.result === 'refused')).toBe(true);
  });

  it('refuses the test-only root override under pkexec', () => {
    expect(() => configFromEnv({ GPU_BRIDGE_HELPER_ROOT: root, PKEXEC_UID: '1000' }, null)).toThrow(Refusal);
    expect(() => configFromEnv({ GPU_BRIDGE_HELPER_STATE_DIR: state, PKEXEC_UID: '1000' }, null)).toThrow(Refusal);
    expect(configFromEnv({ PKEXEC_UID: '1000' }, null)).toMatchObject({ root: '/', who: 'uid:1000' });
  });

  it('takes the test-only writer (a fake kernel) only on a fake root, never under pkexec', () => {
    expect(() => configFromEnv({ GPU_BRIDGE_HELPER_ROOT: root, GPU_BRIDGE_HELPER_WRITER: '/usr/bin/tee', PKEXEC_UID: '1000' }, null)).toThrow(Refusal);
    expect(() => configFromEnv({ GPU_BRIDGE_HELPER_WRITER: '/usr/bin/tee' }, null)).toThrow(/only works on a fake tree/);
    expect(() => configFromEnv({ GPU_BRIDGE_HELPER_ROOT: root, GPU_BRIDGE_HELPER_WRITER: 'tee' }, null)).toThrow(/absolute path/);
    expect(configFromEnv({ GPU_BRIDGE_HELPER_ROOT: root, GPU_BRIDGE_HELPER_WRITER: process.execPath }, null).writer).toBe(process.execPath);
  });
});
