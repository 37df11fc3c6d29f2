// SR-IOV on a real kernel: Debian's kernel in QEMU (TCG, emulated Intel VT-d) with QEMU's emulated NVMe
// controller offering two virtual functions. In one boot, the project's own helper, run by the host's
// Node inside the guest: enables two VFs (each in its own IOMMU group), moves one VF to vfio-pci while
// the PF stays on nvme, is refused an SR-IOV change while that VF is on vfio-pci, gives it back, turns
// the VFs off; a VF bind and an SR-IOV change are each killed half-way and rolled back from the
// journal; a change between two non-zero counts goes through 0 (the kernel answers EBUSY otherwise).
// The guest script is SRIOV_GUEST_SH (vfio-guest-files.ts); the kernel and initramfs come from
// vfio-guest-kit.ts, shared with vfio-qemu.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SRIOV_GUEST_SH } from './vfio-guest-files';
import { missingTools, prepareGuestKit, runGuest, type GuestKit, type GuestRun } from './vfio-guest-kit';

const project = process.cwd();
const cache = join(project, '.cache', 'vfio-kernel');
let skip: string | null = missingTools();
let kit: GuestKit | null = null;
let run: GuestRun | null = null;

interface Answer {
  ok: boolean;
  verb: string;
  target: string | null;
  error: { code: string; message: string } | null;
  devices: Array<{ address: string; before: string | null; after: string | null }>;
  verification: { drivers: boolean; vfioNodes: boolean; viable: boolean } | null;
  rolledBack: boolean;
  recovered: string | null;
  steps: Array<{ what: string; value: string; ok: boolean; ms: number }>;
}

const line = (key: string) => (run as GuestRun).line(key);
const answer = (key: string) => (run as GuestRun).answer<Answer>(key);

const writes = (a: Answer) => a.steps.map((s) => `${s.value}${s.ok ? '' : ' FAIL'}`);

beforeAll(() => {
  if (skip) return;
  execFileSync('node', ['scripts/build-cli.mjs'], { stdio: 'ignore' });
  try {
    kit = prepareGuestKit(cache);
  } catch (error) {
    skip = `cannot prepare the guest kernel (apt-get download needs Debian's package mirror): ${(error as Error).message.slice(0, 300)}`;
    return;
  }
  mkdirSync(cache, { recursive: true });
  writeFileSync(join(cache, 'sriov-guest.sh'), SRIOV_GUEST_SH);
  // QEMU 7.2's NVMe SR-IOV needs an nvme-subsys, sriov_vq_flexible >= 2 * sriov_max_vfs,
  // sriov_vi_flexible >= sriov_max_vfs, max_ioqpairs >= sriov_vq_flexible + 2 (the PF keeps two)
  // and msix_qsize >= sriov_vi_flexible + 1. The root port has ACS: every VF gets its own group.
  // prettier-ignore
  const devices = [
    '-device', 'pcie-root-port,id=rp5,bus=pcie.0,chassis=5,addr=0x7',
    '-device', 'nvme-subsys,id=subsys0',
    '-device', 'nvme,serial=gbsriov,subsys=subsys0,bus=rp5,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6,msix_qsize=4',
  ];
  run = runGuest(kit, { cacheDir: cache, project, devices, script: 'sriov-guest.sh', timeoutS: 200, consoleFile: 'sriov-console.log' });
  const phases = ['start', 'a', 'd', 'e', 'f', 'h'].map((p) => `${p}@${run?.lines.get(`T.${p}`) ?? '?'}s`).join(' ');
  const ms = (key: string) => {
    try {
      return answer(key).json.steps.map((s) => `${s.value.trim() || '""'}:${s.ms}ms`).join(',');
    } catch {
      return '?';
    }
  };
  console.log(`vfio-sriov-qemu: kernel ${kit.version}, guest ran ${run.wallSeconds.toFixed(1)} s (boot to power-off), exit ${run.status}; guest uptime at ${phases}; sriov writes: enable ${ms('a.sriov')}, disable ${ms('e.sriov')}, 2->1 ${ms('h.one')}`);
}, 205_000 + 120_000);

describe('SR-IOV virtual functions on a real kernel (QEMU NVMe, emulated VT-d)', () => {
  it('boots with the NVMe PF on nvme offering 2 VFs, none enabled', (ctx) => {
    if (skip) {
      console.log(`SKIPPED vfio-sriov-qemu: ${skip}`);
      ctx.skip();
    }
    expect(run?.lines.has('DONE'), `guest did not finish; console tail:\n${run?.console.slice(-4000)}`).toBe(true);
    expect(line('pf')).toMatch(/^0000:..:00\.0 nvme 2 0 \d+$/);
  });

  it('(a) sriov <PF> 2: two VFs, each alone in its own IOMMU group; a direct non-zero to non-zero write is EBUSY', (ctx) => {
    if (skip) ctx.skip();
    const pf = line('pf').split(' ')[0] as string;
    const a = answer('a.sriov');
    expect(a.json.error).toBeNull();
    expect(a.rc).toBe(0);
    expect(writes(a.json)).toEqual(['2']);
    const [numvfs, vf1, g1, d1, vf2, g2, d2] = line('a.vfs').split(' ');
    expect(numvfs).toBe('2');
    expect(a.json.devices).toEqual([
      { address: vf1, before: null, after: null },
      { address: vf2, before: null, after: null },
    ]);
    // sriov_drivers_autoprobe is 0 in the guest: the VFs come up without a driver
    expect([d1, d2]).toEqual(['none', 'none']);
    const pfGroup = line('a.physfn').split(' ')[1];
    expect(new Set([g1, g2, pfGroup]).size).toBe(3);
    expect(line('a.members')).toBe(`${vf1} ${vf2}`);
    expect(line('a.physfn')).toBe(`${pf} ${pfGroup}`);
    expect(line('a.ebusy')).toMatch(/^rc=1 2 .*Device or resource busy/);
  });

  it('(b) bind <VF1>: VF1 on vfio-pci with its /dev/vfio node, the PF still on nvme, VF2 untouched', (ctx) => {
    if (skip) ctx.skip();
    const [, vf1] = line('a.vfs').split(' ');
    const b = answer('b.bind');
    expect(b.json.error).toBeNull();
    expect(b.rc).toBe(0);
    expect(b.json.devices).toEqual([{ address: vf1, before: null, after: 'vfio-pci' }]);
    expect(b.json.verification).toEqual({ drivers: true, vfioNodes: true, viable: true });
    expect(line('b.state')).toBe('vfio-pci node nvme none override=(null)');
  });

  it('(c) sriov <PF> 0 is refused (BUSY, nothing written) while VF1 is on vfio-pci', (ctx) => {
    if (skip) ctx.skip();
    const [, vf1] = line('a.vfs').split(' ');
    const c = answer('c.busy');
    expect(c.rc).toBe(2);
    expect(c.json.error?.code).toBe('BUSY');
    expect(c.json.error?.message).toContain(`${vf1} is on vfio-pci`);
    expect(c.json.steps).toEqual([]);
    expect(line('c.state')).toBe('2 vfio-pci nojournal');
  });

  it('(d) restore <VF1>: back to no driver, the node gone', (ctx) => {
    if (skip) ctx.skip();
    const d = answer('d.restore');
    expect(d.json.error).toBeNull();
    expect(d.rc).toBe(0);
    expect(line('d.state')).toBe('none nonode override=(null) nojournal');
  });

  it('a bind of VF2 killed after its writes is rolled back from the journal', (ctx) => {
    if (skip) ctx.skip();
    const [, , , , vf2] = line('a.vfs').split(' ');
    expect(line('g.killed')).toBe('vfio-pci node journal');
    const g = answer('g.rollback');
    expect(g.rc).toBe(0);
    expect(g.json.recovered).toMatch(new RegExp(`^rolled back an interrupted bind of ${vf2?.replace(/\./g, '\\.')}`));
    expect(line('g.after')).toBe('none nonode override=(null) nojournal');
  });

  it('(e) sriov <PF> 0: the VFs are gone, the PF still on nvme', (ctx) => {
    if (skip) ctx.skip();
    const e = answer('e.sriov');
    expect(e.json.error).toBeNull();
    expect(e.rc).toBe(0);
    expect(writes(e.json)).toEqual(['0']);
    expect(e.json.devices).toEqual([]);
    expect(line('e.state')).toBe('0 [] nvme');
  });

  it('(f) sriov <PF> 2 killed after its write: the rollback puts the previous count (0) back', (ctx) => {
    if (skip) ctx.skip();
    expect(line('f.killed')).toBe('2 journal');
    const f = answer('f.rollback');
    expect(f.rc).toBe(0);
    expect(f.json.rolledBack).toBe(true);
    expect(f.json.recovered).toMatch(/^rolled back an interrupted sriov of 0000:..:00\.0/);
    expect(writes(f.json)).toEqual(['0']);
    expect(line('f.after')).toBe('0 [] nojournal nvme');
  });

  it('2 -> 1 goes through 0 on the real kernel', (ctx) => {
    if (skip) ctx.skip();
    expect(line('h.two')).toMatch(/^rc=0 /);
    const h = answer('h.one');
    expect(h.json.error).toBeNull();
    expect(h.rc).toBe(0);
    expect(writes(h.json)).toEqual(['0', '1']);
    const [, vf1] = line('a.vfs').split(' ');
    expect(line('h.state')).toBe(`1 [${vf1} ] nojournal nvme`);
  });
});
