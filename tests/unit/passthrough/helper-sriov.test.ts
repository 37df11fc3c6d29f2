// The helper's `sriov <PF> <N>` verb on a fake tree, with tests/helpers/fake-kernel.mjs playing the
// kernel's SR-IOV (VFs created and removed, their own IOMMU groups, EBUSY for non-zero to non-zero):
// enabling, the refusal while a VF is on vfio-pci or held open, a change through 0, a failed write
// rolled back by the same run, and a run killed half-way rolled back at the next start. Then the
// core handler, the contract, snapshot mode and the CLI's argument checks.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { passthroughCommand } from '../../../src/cli/commands/passthrough';
import { AuditLog } from '../../../src/core/audit/audit-log';
import { passthroughHandlers } from '../../../src/core/passthrough/handlers';
import { Dispatcher } from '../../../src/core/rpc/dispatcher';
import type { Handlers } from '../../../src/core/rpc/handlers';
import { readOnlyHandlers } from '../../../src/core/rpc/read-only';
import { configFromEnv, readJournal, runHelper, type HelperResult } from '../../../src/helper/helper';
import { linkBdf, linkName } from '../../../src/helper/sysfs';
import { buildFakeSysfs, type FakePciDevice } from '../../helpers/fake-sysfs';

const PF = '0000:03:00.0';
// an Intel I350-like PF: VFs at routing id PF + 0x80 + 4k (0000:03:10.0, 0000:03:10.4, 0000:03:11.0, ...)
const VF0 = '0000:03:10.0';
const VF1 = '0000:03:10.4';
const VF2 = '0000:03:11.0';
const HOST: FakePciDevice[] = [
  { address: '0000:00:01.0', vendor: '8086', device: '1901', class: '060400', driver: 'pcieport', iommuGroup: 1 },
  { address: '0000:01:00.0', vendor: '10de', device: '1401', class: '030000', driver: 'nouveau', iommuGroup: 1 },
  { address: PF, vendor: '8086', device: '1521', class: '020000', driver: 'igb', iommuGroup: 3, sriovTotalVfs: 4, files: { sriov_offset: '128\n', sriov_stride: '4\n', sriov_vf_device: '1520\n' } },
];
const NATIVE = { '0000:01:00.0': 'nouveau', [PF]: 'igb', [VF0]: 'igbvf', [VF1]: 'igbvf', [VF2]: 'igbvf', '0000:03:11.4': 'igbvf' };

let dir: string;
let env: NodeJS.ProcessEnv;
const sys = (...p: string[]) => join(dir, 'root', 'sys', 'bus', 'pci', 'devices', ...p);
const numvfs = () => readFileSync(sys(PF, 'sriov_numvfs'), 'utf8').trim();
const vfLinks = () => readdirSync(sys(PF)).filter((n) => n.startsWith('virtfn')).sort().map((n) => linkBdf(sys(PF, n)));
const driver = (bdf: string) => linkName(sys(bdf, 'driver'));
const group = (bdf: string) => linkName(sys(bdf, 'iommu_group'));
const journalFile = () => join(dir, 'state', 'journal.json');
const auditLines = () => readFileSync(join(dir, 'state', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; target: string | null; result: string; detail: string });
const writes = (r: HelperResult) => r.steps.map((s) => `${s.value}${s.ok ? '' : ' FAIL'}`);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gb-helper-sriov-'));
  await buildFakeSysfs(join(dir, 'root'), { devices: HOST, modules: ['vfio_pci'] });
  for (const drv of ['vfio-pci', 'igbvf']) mkdirSync(join(dir, 'root', 'sys/bus/pci/drivers', drv), { recursive: true });
  env = {
    GPU_BRIDGE_HELPER_ROOT: join(dir, 'root'),
    GPU_BRIDGE_HELPER_STATE_DIR: join(dir, 'state'),
    GPU_BRIDGE_HELPER_WRITER: resolve(__dirname, '../../helpers/fake-kernel.mjs'),
    GPU_BRIDGE_FAKE_KERNEL_DRIVERS: JSON.stringify(NATIVE),
    GPU_BRIDGE_FAKE_KERNEL_FAIL: join(dir, 'fail'),
  };
  // the fake kernel is a child of this process: it reads the tree and the native drivers from its environment
  Object.assign(process.env, env);
});
afterEach(async () => {
  for (const name of Object.keys(env)) delete process.env[name];
  await rm(dir, { recursive: true, force: true });
});

describe('helper sriov: the kernel sequence on a fake tree', () => {
  it('enables 2 VFs: each with its own new IOMMU group and its physfn link; the PF keeps its driver', async () => {
    const { exitCode, result } = await runHelper(['sriov', PF, '2'], env);
    expect(result.error).toBeNull();
    expect(exitCode).toBe(0);
    expect(writes(result)).toEqual(['2']);
    expect(result.devices).toEqual([
      { address: VF0, before: null, after: 'igbvf' },
      { address: VF1, before: null, after: 'igbvf' },
    ]);
    expect(numvfs()).toBe('2');
    expect(vfLinks()).toEqual([VF0, VF1]);
    expect(linkBdf(sys(VF0, 'physfn'))).toBe(PF);
    expect(new Set([group(PF), group(VF0), group(VF1)]).size).toBe(3);
    expect(readdirSync(join(dir, 'root', 'sys/kernel/iommu_groups', group(VF0) as string, 'devices'))).toEqual([VF0]);
    expect(driver(PF)).toBe('igb');
    expect(existsSync(journalFile())).toBe(false);
    expect(auditLines().at(-1)).toMatchObject({ action: 'passthrough.sriov', target: PF, result: 'ok' });
    // the same count again changes nothing and writes nothing
    const again = await runHelper(['sriov', PF, '2'], env);
    expect(again.result.ok).toBe(true);
    expect(again.result.steps).toEqual([]);
  }, 30_000);

  it('refuses (BUSY, nothing written) while a VF is on vfio-pci or its group is held open; then 2 -> 1 goes through 0, and back to 0', async () => {
    expect((await runHelper(['sriov', PF, '2'], env)).result.ok).toBe(true);
    const bound = await runHelper(['bind', VF0], env);
    expect(bound.result.error).toBeNull();
    expect(bound.result.devices.map((d) => d.address)).toEqual([VF0]); // the VF alone: the PF and VF1 stay
    expect([driver(VF0), driver(VF1), driver(PF)]).toEqual(['vfio-pci', 'igbvf', 'igb']);

    for (const n of ['3', '0', '1']) {
      const busy = await runHelper(['sriov', PF, n], env);
      expect(busy.exitCode).toBe(2);
      expect(busy.result.error?.code).toBe('BUSY');
      expect(busy.result.error?.message).toContain(`${VF0} is on vfio-pci`);
      expect(busy.result.steps).toEqual([]);
    }
    expect(numvfs()).toBe('2');
    expect(driver(VF0)).toBe('vfio-pci');
    expect(existsSync(journalFile())).toBe(false);

    expect((await runHelper(['restore', VF0], env)).result.ok).toBe(true);
    expect(driver(VF0)).toBe('igbvf');
    // a process (a VM) holding VF1's group open blocks as well, named by pid
    const fd = join(dir, 'root', 'proc', '4242', 'fd');
    mkdirSync(fd, { recursive: true });
    writeFileSync(join(dir, 'root', 'proc', '4242', 'comm'), 'qemu-system-x86\n');
    symlinkSync(`/dev/vfio/${group(VF1)}`, join(fd, '17'));
    const held = await runHelper(['sriov', PF, '0'], env);
    expect(held.result.error?.code).toBe('BUSY');
    expect(held.result.error?.message).toContain('qemu-system-x86 (pid 4242)');
    await rm(join(dir, 'root', 'proc'), { recursive: true });

    const down = await runHelper(['sriov', PF, '1'], env);
    expect(down.result.error).toBeNull();
    expect(writes(down.result)).toEqual(['0', '1']);
    expect(down.result.steps[0]?.what).toMatch(/only through 0/);
    expect(vfLinks()).toEqual([VF0]);
    expect(existsSync(sys(VF1))).toBe(false);

    const off = await runHelper(['sriov', PF, '0'], env);
    expect(off.result.error).toBeNull();
    expect(writes(off.result)).toEqual(['0']);
    expect(off.result.devices).toEqual([]);
    expect(numvfs()).toBe('0');
    expect(vfLinks()).toEqual([]);
    expect(existsSync(sys(VF0))).toBe(false);
    expect(readdirSync(join(dir, 'root', 'sys/kernel/iommu_groups')).sort()).toEqual(['1', '3']);
  }, 60_000);

  it('the fake kernel answers EBUSY for non-zero to non-zero, as the real one does', async () => {
    expect((await runHelper(['sriov', PF, '2'], env)).result.ok).toBe(true);
    const child = spawn(process.execPath, [env.GPU_BRIDGE_HELPER_WRITER as string, sys(PF, 'sriov_numvfs')], { env: process.env, stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.end('3');
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/^EBUSY/);
    expect(numvfs()).toBe('2');
  }, 30_000);

  it('a failed write is rolled back by the same run to the previous count', async () => {
    expect((await runHelper(['sriov', PF, '2'], env)).result.ok).toBe(true);
    writeFileSync(join(dir, 'fail'), `${PF} sriov\n`);
    const { exitCode, result } = await runHelper(['sriov', PF, '3'], env);
    expect(exitCode).toBe(1);
    expect(result.error?.code).toBe('FAILED');
    expect(result.error?.message).toMatch(/EIO.*back to its previous 2 virtual functions/s);
    expect(writes(result)).toEqual(['0', '3 FAIL', '2']);
    expect(result.rolledBack).toBe(true);
    expect(numvfs()).toBe('2');
    expect(vfLinks()).toEqual([VF0, VF1]);
    expect(existsSync(journalFile())).toBe(false);
    expect(auditLines().at(-1)).toMatchObject({ action: 'passthrough.sriov', result: 'failed' });
  }, 30_000);

  it('refuses what the kernel would refuse, before writing: over sriov_totalvfs, a VF as PF, a PF without a driver', async () => {
    expect((await runHelper(['sriov', PF, '5'], env)).result.error?.message).toMatch(/at most 4/);
    expect((await runHelper(['sriov', PF, '2'], env)).result.ok).toBe(true);
    const vf = await runHelper(['sriov', VF0, '1'], env);
    expect(vf.result.error).toMatchObject({ code: 'REFUSED', message: expect.stringMatching(/itself a virtual function/) });
    await rm(sys(PF, 'driver'));
    const orphan = await runHelper(['sriov', PF, '0'], env);
    expect(orphan.exitCode).toBe(2);
    expect(orphan.result.error?.message).toMatch(/has no driver/);
    expect(numvfs()).toBe('2');
  }, 30_000);
});

describe('helper sriov: a run killed half-way', () => {
  let bundle: string;
  let outDir: string;
  beforeAll(async () => {
    // the helper as scripts/build-cli.mjs bundles it, so it can be run (and killed) as its own process
    outDir = await mkdtemp(join(tmpdir(), 'gb-helper-bundle-'));
    await build({
      configFile: false,
      logLevel: 'silent',
      build: { ssr: resolve(__dirname, '../../../src/helper/index.ts'), outDir, emptyOutDir: true, target: 'node20', minify: false, rollupOptions: { output: { format: 'es', entryFileNames: 'index.mjs' } } },
      ssr: { noExternal: [], target: 'node' },
    });
    bundle = join(outDir, 'index.mjs');
  }, 60_000);
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  /** Runs the bundled helper with the test hook, waits for it to pause after `steps` writes, kills it. */
  async function killedAfter(steps: number, argv: string[]): Promise<void> {
    const child = spawn(process.execPath, [bundle, ...argv], { env: { ...process.env, ...env, GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS: String(steps) }, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((res, rej) => {
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        if (err.includes('paused')) res();
      });
      child.on('exit', (code) => rej(new Error(`the helper exited (${code}) before pausing: ${err}`)));
    });
    child.kill('SIGKILL');
    await new Promise((res) => child.on('close', res));
  }

  it('killed between the 0 and the new count (2 -> 1): the next start puts the 2 VFs back', async () => {
    expect((await runHelper(['sriov', PF, '2'], env)).result.ok).toBe(true);
    await killedAfter(1, ['sriov', PF, '1']);
    expect(numvfs()).toBe('0'); // half-way: the VFs are gone, the new one is not there
    expect(readJournal(configFromEnv(env, null))).toMatchObject({ verb: 'sriov', target: PF, previousVfs: 2, requestedVfs: 1 });
    const { exitCode, result } = await runHelper(['rollback'], env);
    expect(exitCode).toBe(0);
    expect(result.recovered).toMatch(/^rolled back an interrupted sriov of 0000:03:00\.0/);
    expect(writes(result)).toEqual(['2']);
    expect(numvfs()).toBe('2');
    expect(vfLinks()).toEqual([VF0, VF1]);
    expect(existsSync(journalFile())).toBe(false);
    expect(auditLines().at(-1)).toMatchObject({ action: 'passthrough.rollback', target: PF, result: 'ok' });
  }, 60_000);

  it('killed after enabling (0 -> 2), before it verified: any next verb first goes back to 0', async () => {
    await killedAfter(1, ['sriov', PF, '2']);
    expect(numvfs()).toBe('2');
    const next = await runHelper(['sriov', PF, '1'], env);
    expect(next.result.recovered).toMatch(/^rolled back an interrupted sriov/);
    expect(next.result.error).toBeNull();
    expect(writes(next.result)).toEqual(['0', '1']); // the rollback's 0, then the new count from 0
    expect(vfLinks()).toEqual([VF0]);
  }, 60_000);
});

describe('helper sriov: journals', () => {
  it('still reads a version-1 journal written before sriov existed, and ignores an sriov journal without its count', () => {
    const cfg = configFromEnv(env, null);
    mkdirSync(join(dir, 'state'), { recursive: true });
    const old = { version: 1, verb: 'bind', target: '0000:01:00.0', pid: 1, startedAt: '2026-01-01T00:00:00Z', devices: [{ address: '0000:01:00.0', group: 1, originalDriver: 'nouveau', originalOverride: null }], step: 'start' };
    writeFileSync(journalFile(), JSON.stringify(old));
    expect(readJournal(cfg)).toEqual(old);
    writeFileSync(journalFile(), JSON.stringify({ ...old, verb: 'sriov', target: PF, devices: [] }));
    expect(readJournal(cfg)).toBeNull();
    writeFileSync(journalFile(), JSON.stringify({ ...old, verb: 'sriov', target: '../x', devices: [], previousVfs: 1 }));
    expect(readJournal(cfg)).toBeNull();
  });
});

describe('passthrough.sriov: core, contract, snapshot mode, CLI', () => {
  const ctx = { shell: 'web' as const, clientId: 'c1' };
  const answer = (args: string[]) => ({ ok: true, verb: args[0] ?? '', target: args[1] ?? null, devices: [{ address: VF0, before: null, after: 'igbvf' }], steps: [], rolledBack: false, recovered: null, verification: null, error: null });

  it('the handler asks the helper for `sriov <PF> <N>` and audits it', async () => {
    const calls: string[][] = [];
    const audit = new AuditLog(join(dir, 'core-audit.jsonl'));
    const handlers = passthroughHandlers({ audit, helper: async (args) => (calls.push(args), answer(args)) });
    const res = await handlers['passthrough.sriov']({ address: PF, vfs: 1 }, ctx);
    expect(res.ok).toBe(true);
    expect(calls).toEqual([['sriov', PF, '1']]);
    expect(JSON.parse(readFileSync(join(dir, 'core-audit.jsonl'), 'utf8').trim())).toMatchObject({ action: 'passthrough.sriov', target: PF, result: 'ok', detail: `1 virtual functions, ${VF0}: - -> igbvf` });
  });

  it('the contract refuses a count that is not an integer from 0 to 256 before the helper runs', async () => {
    let called = false;
    const handlers = passthroughHandlers({ audit: new AuditLog(join(dir, 'never.jsonl')), helper: async (args) => ((called = true), answer(args)) });
    const dispatcher = new Dispatcher(handlers as unknown as Handlers);
    for (const params of [{ address: PF, vfs: -1 }, { address: PF, vfs: 257 }, { address: PF, vfs: 1.5 }, { address: PF, vfs: '2' }, { address: PF }, { address: `${PF};id`, vfs: 1 }, { address: PF, vfs: 1, with: [VF0] }]) {
      const reply = await dispatcher.handleRaw(JSON.stringify({ id: 1, method: 'passthrough.sriov', params }), ctx);
      expect(JSON.stringify(reply)).toContain('INVALID_PARAMS');
    }
    expect(called).toBe(false);
    const ok = await dispatcher.handleRaw(JSON.stringify({ id: 2, method: 'passthrough.sriov', params: { address: PF, vfs: 0 } }), ctx);
    expect(ok).toMatchObject({ id: 2, result: { ok: true } });
  });

  it('snapshot mode refuses it (it is not on the read-only list)', async () => {
    const handlers = passthroughHandlers({ audit: new AuditLog(join(dir, 'never.jsonl')), helper: async () => {
      throw new Error('must not run');
    } });
    const ro = readOnlyHandlers(handlers as unknown as Handlers, { host: 'ws-7', takenAt: '2026-12-01' });
    expect(() => ro['passthrough.sriov']({ address: PF, vfs: 2 }, ctx)).toThrow(expect.objectContaining({ code: 'REFUSED' }));
  });

  it('the CLI checks --vfs before the helper runs', async () => {
    const refused = async (argv: string[]) => {
      const error = (await passthroughCommand.run(argv).then(() => null, (e: unknown) => e)) as { exitCode?: number; message?: string } | null;
      expect(error?.exitCode, argv.join(' ')).toBe(2);
      return error?.message ?? '';
    };
    expect(await refused(['sriov', PF])).toMatch(/sriov needs --vfs N/);
    expect(await refused(['bind', '0000:01:00.0', '--vfs', '2'])).toMatch(/--vfs only applies to sriov/);
    for (const bad of ['two', '01', '257', '1.5', '', '0x2']) expect(await refused(['sriov', PF, '--vfs', bad])).toMatch(/not a number of virtual functions/);
    expect(await refused(['sriov', PF, '--vfs', '2', '--with', VF0])).toMatch(/--with only applies/);
    expect(await refused(['sriov', '03:00.0', '--vfs', '2'])).toMatch(/not a PCI address/);
  });
});
