import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeSysfs } from '../helpers/fake-sysfs';
import { B550, fixtureDevices, listingRoot } from '../unit/passthrough/fixture-host';

const CEZANNE = 'SamuraisEpic-vfio-gpu-passthrough__asus-prime-b550-plus-ryzen5-5600g__cezanne-rtx2060.txt';

let dir: string;
beforeAll(async () => {
  execFileSync('node', ['scripts/build-cli.mjs'], { stdio: 'ignore' });
  dir = await mkdtemp(join(tmpdir(), 'gb-pt-cli-'));
  await buildFakeSysfs(join(dir, 'host'), { devices: await fixtureDevices(B550), cmdline: 'root=/dev/sda1 amd_iommu=on' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync('node', ['out/cli/index.mjs', ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('gpu-bridge passthrough plan', () => {
  it('prints the plan of a good group as JSON', () => {
    const res = cli(['passthrough', 'plan', '0000:2b:00.0', '--json', '--from', join(dir, 'host')]);
    expect(res.status).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(Object.keys(plan).sort()).toEqual(['blockers', 'cardSwitch', 'devices', 'hostOnly', 'optional', 'physfn', 'target', 'viable', 'warnings', 'with']);
    expect(plan.hostOnly).toEqual([]);
    expect(plan.cardSwitch).toBeNull();
    expect(plan.optional).toEqual([]);
    expect(plan.viable).toBe(true);
    expect(plan.devices.map((d: { role: string }) => d.role)).toEqual(['gpu', 'audio', 'usb', 'serial']);
  });

  it('exits 3 and names the devices sharing a bad group', () => {
    const res = cli(['passthrough', 'plan', '0000:04:00.0', '--from', join(dir, 'host')]);
    expect(res.status).toBe(3);
    expect(res.stdout).toContain('blocker GROUP_SHARED');
    for (const d of ['0000:02:00.0', '0000:02:00.1', '0000:2a:00.0']) expect(res.stdout).toContain(d);
  });

  it('prints libvirt hostdevs for every planned device, and refuses a blocked plan', () => {
    const res = cli(['passthrough', 'libvirt', '0000:2b:00.0', '--from', join(dir, 'host')]);
    expect(res.status).toBe(0);
    expect(res.stdout.match(/<hostdev mode='subsystem' type='pci' managed='no'>/g)).toHaveLength(4);
    expect(res.stdout).toContain("function='0x3'");
    const bad = cli(['passthrough', 'libvirt', '0000:04:00.0', '--from', join(dir, 'host')]);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain('0000:2a:00.0');
  });

  it('persist prints a dry-run diff and writes nothing', () => {
    const res = cli(['passthrough', 'persist', '0000:2b:00.0', '--from', join(dir, 'host')]);
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('# dry run: nothing was written');
    expect(res.stdout).toContain('+++ b/etc/modprobe.d/gpu-bridge-vfio.conf');
    expect(res.stdout).toContain('+options vfio-pci ids=10de:1e84,10de:10f8,10de:1ad8,10de:1ad9');
    expect(existsSync(join(dir, 'host', 'etc', 'modprobe.d'))).toBe(false);
  });

  it('a published Cezanne APU listing: the slot\'s other groups stay, listed with --with (not the PSP); --with adds one; a stranger is refused', async () => {
    const root = join(dir, 'apu');
    await listingRoot(CEZANNE, root);
    const res = cli(['passthrough', 'plan', '0000:09:00.0', '--from', root]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/moves to vfio-pci:\n {2}0000:09:00\.0 {2}gpu .*\n {2}0000:09:00\.1 {2}audio .*\nstays on the host unless added with --with ADDR:\n {2}0000:09:00\.3 {2}usb/);
    expect(res.stdout).toMatch(/0000:09:00\.3 {2}usb .*group 13: a USB controller of the card \(in the GPU's slot 0000:09:00\) in its own IOMMU group \(13\)/);
    // the platform security processor of the APU's slot is the host's: shown, never offered
    expect(res.stdout).toMatch(/stays with the host, never offered:\n {2}0000:09:00\.2 {2}crypto {2}the platform security processor/);
    const added = JSON.parse(cli(['passthrough', 'plan', '0000:09:00.0', '--with', '0000:09:00.3', '--json', '--from', root]).stdout) as { devices: Array<{ address: string }>; with: string[] };
    expect(added.devices.map((d) => d.address)).toEqual(['0000:09:00.0', '0000:09:00.1', '0000:09:00.3']);
    expect(added.with).toEqual(['0000:09:00.3']);
    const stranger = cli(['passthrough', 'plan', '0000:09:00.0', '--with', '0000:01:00.0', '--from', root]);
    expect(stranger.status).toBe(3);
    expect(stranger.stdout).toContain('blocker NOT_OPTIONAL');
    expect(cli(['passthrough', 'plan', '0000:09:00.0', '--with', '../x', '--from', root]).status).toBe(2);
  });

  it('refuses a malformed address with usage', () => {
    const res = cli(['passthrough', 'plan', '../etc', '--from', join(dir, 'host')]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('not a PCI address');
  });
});

describe('bundled helper', () => {
  it('refuses the test-only sysfs root under pkexec, writing nothing', () => {
    const res = spawnSync('node', ['out/helper/index.mjs', 'bind', '0000:2b:00.0'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PKEXEC_UID: '1000', GPU_BRIDGE_HELPER_ROOT: join(dir, 'host'), GPU_BRIDGE_HELPER_STATE_DIR: join(dir, 'state') },
    });
    expect(res.status).toBe(2);
    const out = JSON.parse(res.stdout);
    expect(out.error.code).toBe('REFUSED');
    expect(out.error.message).toContain('refused under pkexec');
  });

  it('answers JSON for a hostile argument', () => {
    const res = spawnSync('node', ['out/helper/index.mjs', 'bind', '$(reboot)'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, GPU_BRIDGE_HELPER_ROOT: join(dir, 'host'), GPU_BRIDGE_HELPER_STATE_DIR: join(dir, 'state') },
    });
    expect(res.status).toBe(2);
    expect(JSON.parse(res.stdout).error.code).toBe('REFUSED');
  });
});
