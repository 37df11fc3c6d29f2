import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/core/audit/audit-log';
import { passthroughHandlers } from '../../../src/core/passthrough/handlers';
import { Dispatcher } from '../../../src/core/rpc/dispatcher';
import type { Handlers } from '../../../src/core/rpc/handlers';
import { buildFakeSysfs } from '../../helpers/fake-sysfs';
import { Z170, fixtureDevices } from './fixture-host';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('passthrough handlers', () => {
  it('plan and checks answer through the contract; bind goes to the helper and is audited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gb-pt-h-'));
    dirs.push(dir);
    await buildFakeSysfs(join(dir, 'root'), { devices: await fixtureDevices(Z170), cmdline: 'intel_iommu=on' });
    const audit = new AuditLog(join(dir, 'audit.jsonl'));
    const calls: string[][] = [];
    const handlers = passthroughHandlers({
      audit,
      root: join(dir, 'root'),
      helper: async (args) => {
        calls.push(args);
        return { ok: true, verb: args[0] ?? '', target: args[1] ?? null, devices: [{ address: '0000:01:00.0', before: 'nouveau', after: 'vfio-pci' }], steps: [], rolledBack: false, recovered: null, verification: { drivers: true, vfioNodes: true, viable: true }, error: null };
      },
    });
    const plan = await handlers['passthrough.plan']({ address: '0000:01:00.0' }, { shell: 'web', clientId: 'c1' });
    expect(plan.devices.map((d) => d.address)).toEqual(['0000:01:00.0', '0000:01:00.1']);
    const checks = await handlers['passthrough.checks']({ address: '0000:01:00.0' }, { shell: 'web', clientId: 'c1' });
    expect(checks.checks.find((c) => c.id === 'iommu-group')?.status).toBe('pass');
    await handlers['passthrough.bind']({ address: '0000:01:00.0' }, { shell: 'web', clientId: 'c1' });
    expect(calls).toEqual([['bind', '0000:01:00.0']]);
    const line = JSON.parse((await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim()) as { action: string; result: string; detail: string };
    expect(line).toMatchObject({ action: 'passthrough.bind', result: 'ok', detail: '0000:01:00.0: nouveau -> vfio-pci' });
  });

  it('a bind the plan blocks (the host root filesystem behind a device that moves, an extra that is not the card\'s) never reaches the helper, and is audited as refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gb-pt-h-'));
    dirs.push(dir);
    await buildFakeSysfs(join(dir, 'root'), {
      devices: [
        { address: '0000:01:00.0', vendor: '10de', device: '2684', class: '030000', driver: 'nvidia', iommuGroup: 14 },
        { address: '0000:01:00.1', vendor: '10de', device: '22ba', class: '010802', driver: 'nvme', iommuGroup: 14, files: { 'nvme/nvme0/nvme0n1/queue/rotational': '0\n' } },
      ],
      files: { 'proc/mounts': '/dev/nvme0n1 / ext4 rw 0 0\n' },
    });
    const calls: string[][] = [];
    const handlers = passthroughHandlers({
      audit: new AuditLog(join(dir, 'audit.jsonl')),
      root: join(dir, 'root'),
      helper: async (args) => {
        calls.push(args);
        throw new Error('the helper must not be asked');
      },
    });
    const ctx = { shell: 'web' as const, clientId: 'c2' };
    const rootFs = await handlers['passthrough.bind']({ address: '0000:01:00.0' }, ctx);
    expect(rootFs.ok).toBe(false);
    expect(rootFs.error).toMatchObject({ code: 'REFUSED', message: expect.stringContaining('HOST_ROOT_FILESYSTEM: 0000:01:00.1 holds /dev/nvme0n1 mounted on /') as string });
    const stranger = await handlers['passthrough.bind']({ address: '0000:01:00.0', with: ['0000:02:00.0'] }, ctx);
    expect(stranger.error?.message).toContain('NOT_OPTIONAL');
    expect(calls).toEqual([]);
    const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { result: string });
    expect(lines.map((l) => l.result)).toEqual(['refused', 'refused']);
  });

  it('the dispatcher refuses a hostile address before any handler runs', async () => {
    let called = false;
    const handlers = passthroughHandlers({ audit: new AuditLog(join(tmpdir(), 'never.jsonl')), helper: async () => {
      called = true;
      throw new Error('must not run');
    } });
    const dispatcher = new Dispatcher(handlers as unknown as Handlers);
    const answer = await dispatcher.handleRaw(JSON.stringify({ id: 1, method: 'passthrough.bind', params: { address: '0000:01:00.0; reboot' } }), { shell: 'web', clientId: 'x' });
    expect(JSON.stringify(answer)).toContain('INVALID_PARAMS');
    expect(called).toBe(false);
  });
});
