// `gpu-bridge passthrough persist` run as a real process against fake root trees built from the fixture
// hosts: dry run writes nothing, --apply writes exactly the expected files with backups, --undo gives back
// every byte (and mode), and hostile input is refused with nothing written.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeSysfs } from '../helpers/fake-sysfs';
import { CLI } from '../helpers/spawn-cli';
import { B550, Z170, fixtureDevices } from '../unit/passthrough/fixture-host';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gb-persist-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'passthrough', 'persist', ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every entry under `root`: folders, symlinks (target) and files (mode and SHA-256 of the bytes). */
async function treeState(root: string, skip: (rel: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const rel = relative(root, p);
      if (skip(rel)) continue;
      const st = await lstat(p);
      if (st.isSymbolicLink()) out[rel] = `link ${await readlink(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        await walk(p);
      } else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
    }
  };
  await walk(root);
  return out;
}

/** GPU Bridge's own state folder (the backups live there) is the one thing an undo may leave behind, empty. */
const ownState = (rel: string) => rel === 'var/lib/gpu-bridge' || rel.startsWith('var/lib/gpu-bridge/');

async function put(root: string, rel: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), text);
  await chmod(join(root, rel), mode);
}

const read = (root: string, rel: string) => readFile(join(root, rel), 'utf8');

/** Debian 12, GRUB, initramfs-tools, Intel: the ASRock Z170 host with its GTX 960. */
async function debianHost(name: string): Promise<string> {
  const root = join(dir, name);
  await buildFakeSysfs(root, { devices: await fixtureDevices(Z170), cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet', cpuinfo: 'flags\t: fpu vmx sse\n' });
  await put(root, 'etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
  await put(root, 'etc/debian_version', '12.8\n');
  await put(root, 'etc/default/grub', '# If you change this file, run update-grub\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n');
  // CRLF line ends and an unusual mode: undo must give back exactly these bytes and this mode.
  await put(root, 'etc/initramfs-tools/modules', '# List of modules that you want to include in your initramfs.\r\nloop\r\n', 0o640);
  await mkdir(join(root, 'etc/modprobe.d'), { recursive: true });
  await put(root, 'etc/modprobe.d/blacklist.conf', 'blacklist pcspkr\n');
  await mkdir(join(root, 'var/lib'), { recursive: true });
  return root;
}

/** Fedora 40, systemd-boot, dracut, AMD: the MSI B550 host with its RTX 2070 SUPER. */
async function fedoraHost(name: string): Promise<string> {
  const root = join(dir, name);
  await buildFakeSysfs(root, { devices: await fixtureDevices(B550), cmdline: 'root=/dev/nvme0n1p2 rw amd_iommu=on', cpuinfo: 'flags\t: fpu svm sse\n' });
  await put(root, 'etc/os-release', 'NAME="Fedora Linux"\nPRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\nID=fedora\n');
  await put(root, 'boot/loader/entries/fedora-6.8.conf', 'title Fedora Linux 40\nversion 6.8.5\nlinux /vmlinuz-6.8.5\ninitrd /initramfs-6.8.5.img\noptions root=/dev/nvme0n1p2 rw amd_iommu=on rhgb quiet\n');
  await put(root, 'boot/loader/entries/fedora-rescue.conf', 'title Fedora Linux 40 (rescue)\nlinux /vmlinuz-rescue\noptions root=/dev/nvme0n1p2 ro\n');
  await put(root, 'etc/dracut.conf.d/90-local.conf', 'hostonly="yes"\n');
  await mkdir(join(root, 'var/lib'), { recursive: true });
  return root;
}

describe('gpu-bridge passthrough persist (fake root trees)', () => {
  it('GRUB + initramfs-tools: dry run writes nothing, --apply writes exactly these files, --undo gives back every byte', async () => {
    const root = await debianHost('debian');
    const original = await treeState(root);

    const dry = cli(['0000:01:00.0', '--root', root]);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('# dry run: nothing was written (Debian GNU/Linux 12 (bookworm), grub, initramfs-tools)');
    expect(dry.stdout).toContain('-GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n+GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"\n');
    expect(dry.stdout).toContain('--- /dev/null\n+++ b/etc/modprobe.d/gpu-bridge-vfio.conf\n');
    expect(dry.stdout).toContain('# then run: update-grub\n# then run: update-initramfs -u\n');
    expect(await treeState(root)).toEqual(original);

    const unconfirmed = cli(['0000:01:00.0', '--root', root, '--apply']);
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toContain('only with --yes');
    expect(await treeState(root)).toEqual(original);

    const applied = cli(['0000:01:00.0', '--root', root, '--apply', '--yes']);
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('wrote /etc/default/grub\nwrote /etc/modprobe.d/gpu-bridge-vfio.conf (new)\nwrote /etc/initramfs-tools/modules\n');
    expect(applied.stdout).toContain('# not run (alternate root: run it inside that system): update-grub\n');
    expect(await read(root, 'etc/default/grub')).toBe('# If you change this file, run update-grub\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"\nGRUB_CMDLINE_LINUX=""\n');
    expect(await read(root, 'etc/modprobe.d/gpu-bridge-vfio.conf')).toBe(
      '# Written by GPU Bridge: bind these devices to vfio-pci at boot, before their usual drivers.\noptions vfio-pci ids=10de:1401,10de:0fba\nsoftdep nouveau pre: vfio-pci\nsoftdep snd_hda_intel pre: vfio-pci\n',
    );
    expect(await read(root, 'etc/initramfs-tools/modules')).toBe('# List of modules that you want to include in your initramfs.\r\nloop\r\nvfio\nvfio_iommu_type1\nvfio_pci\n');
    expect((await lstat(join(root, 'etc/initramfs-tools/modules'))).mode & 0o7777).toBe(0o640);
    expect(await read(root, 'etc/modprobe.d/blacklist.conf')).toBe('blacklist pcspkr\n');
    // No temporary files left next to the targets (every write is temp file + rename).
    expect((await readdir(join(root, 'etc/default'))).sort()).toEqual(['grub']);
    expect((await readdir(join(root, 'etc/modprobe.d'))).sort()).toEqual(['blacklist.conf', 'gpu-bridge-vfio.conf']);

    // A second apply would overwrite the backups with modified files: refused.
    const afterApply = await treeState(root);
    const again = cli(['0000:01:00.0', '--root', root, '--apply', '--yes']);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('already applied');
    expect(await treeState(root)).toEqual(afterApply);

    const undone = cli(['--undo', '--root', root]);
    expect(undone.status, undone.stderr).toBe(0);
    expect(undone.stdout).toContain('restored /etc/default/grub\nremoved  /etc/modprobe.d/gpu-bridge-vfio.conf\nrestored /etc/initramfs-tools/modules\n');
    expect(await treeState(root, ownState)).toEqual(original);
    expect(await readdir(join(root, 'var/lib/gpu-bridge'))).toEqual([]);

    const nothing = cli(['--undo', '--root', root]);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain('nothing to undo');
  });

  it('systemd-boot + dracut: every loader entry, the dracut drop-in, JSON output; undo refuses a file edited since, --force restores', async () => {
    const root = await fedoraHost('fedora');
    const original = await treeState(root);

    const applied = cli(['0000:2b:00.0', '--root', root, '--apply', '--yes', '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    const result = JSON.parse(applied.stdout);
    expect(result.files).toEqual([
      { path: '/boot/loader/entries/fedora-6.8.conf', created: false },
      { path: '/boot/loader/entries/fedora-rescue.conf', created: false },
      { path: '/etc/modprobe.d/gpu-bridge-vfio.conf', created: true },
      { path: '/etc/dracut.conf.d/gpu-bridge-vfio.conf', created: true },
    ]);
    expect(result.commands).toEqual([{ argv: ['dracut', '-f'], ran: false, code: null, error: 'alternate root: run it inside that system' }]);
    expect(await read(root, 'boot/loader/entries/fedora-6.8.conf')).toBe('title Fedora Linux 40\nversion 6.8.5\nlinux /vmlinuz-6.8.5\ninitrd /initramfs-6.8.5.img\noptions root=/dev/nvme0n1p2 rw amd_iommu=on rhgb quiet iommu=pt\n');
    expect(await read(root, 'boot/loader/entries/fedora-rescue.conf')).toBe('title Fedora Linux 40 (rescue)\nlinux /vmlinuz-rescue\noptions root=/dev/nvme0n1p2 ro iommu=pt\n');
    expect(await read(root, 'etc/modprobe.d/gpu-bridge-vfio.conf')).toBe(
      '# Written by GPU Bridge: bind these devices to vfio-pci at boot, before their usual drivers.\noptions vfio-pci ids=10de:1e84,10de:10f8,10de:1ad8,10de:1ad9\nsoftdep nouveau pre: vfio-pci\nsoftdep nvidia_gpu pre: vfio-pci\nsoftdep snd_hda_intel pre: vfio-pci\nsoftdep xhci_hcd pre: vfio-pci\n',
    );
    expect(await read(root, 'etc/dracut.conf.d/gpu-bridge-vfio.conf')).toBe('force_drivers+=" vfio vfio_iommu_type1 vfio_pci "\n');
    expect(await read(root, 'etc/dracut.conf.d/90-local.conf')).toBe('hostonly="yes"\n');

    // The owner edits an entry after apply: undo would throw that edit away, so it refuses and writes nothing.
    await writeFile(join(root, 'boot/loader/entries/fedora-rescue.conf'), 'title edited by hand\n');
    const edited = await treeState(root);
    const refused = cli(['--undo', '--root', root]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('/boot/loader/entries/fedora-rescue.conf changed since the setup was applied');
    expect(await treeState(root)).toEqual(edited);

    const wrongTarget = cli(['0000:01:00.0', '--undo', '--root', root]);
    expect(wrongTarget.status).toBe(2);
    expect(wrongTarget.stderr).toContain('the applied setup is for 0000:2b:00.0');

    const forced = cli(['0000:2b:00.0', '--undo', '--force', '--root', root]);
    expect(forced.status, forced.stderr).toBe(0);
    expect(await treeState(root, ownState)).toEqual(original);
  });
});

describe('gpu-bridge passthrough persist refuses hostile input, writing nothing', () => {
  let root: string;
  let outside: string;
  let before: Record<string, string>;
  let outsideBefore: Record<string, string>;
  beforeAll(async () => {
    root = await fedoraHost('hostile');
    outside = join(dir, 'outside');
    await put(outside, 'victim.conf', 'options untouched\n');
    await mkdir(join(outside, 'modprobe.d'), { recursive: true });
    before = await treeState(root);
    outsideBefore = await treeState(outside);
  });

  const unchanged = async () => {
    expect(await treeState(root)).toEqual(before);
    expect(await treeState(outside)).toEqual(outsideBefore);
  };

  it.each([
    ['a BDF with a shell metacharacter', ['0000:2b:00.0;touch x', '--apply', '--yes'], 'not a PCI address'],
    ['a ../ path as the address', ['../../etc/passwd', '--apply', '--yes'], 'not a PCI address'],
    ['an overlong BDF', ['0000:2b:00.00000', '--apply', '--yes'], 'not a PCI address'],
    ['a bridge, not a GPU', ['0000:00:01.0', '--apply', '--yes'], 'cannot be passed through'],
    ['--from (a read-only snapshot) with --apply', ['0000:2b:00.0', '--apply', '--yes', '--from', '/'], 'read-only snapshot'],
  ])('%s', async (_what, args, message) => {
    const res = cli(args.includes('--from') ? args : [...args, '--root', root]);
    expect([2, 3]).toContain(res.status);
    expect(res.stderr).toContain(message);
    await unchanged();
  });

  it('a root with ../ in it, or a relative one', async () => {
    for (const bad of [`${root}/../hostile`, 'relative/root', `${root}/./`]) {
      const res = cli(['0000:2b:00.0', '--root', bad, '--apply', '--yes']);
      expect(res.status).toBe(2);
      expect(res.stderr).toMatch(/must be an absolute path without|is not a folder/);
    }
    await unchanged();
  });

  it('a loader entry that is a symlink pointing out of the root', async () => {
    const link = join(root, 'boot/loader/entries/zz-evil.conf');
    await symlink(relative(join(root, 'boot/loader/entries'), join(outside, 'victim.conf')), link);
    before = await treeState(root);
    const res = cli(['0000:2b:00.0', '--root', root, '--apply', '--yes']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('/boot/loader/entries/zz-evil.conf is a symlink');
    await unchanged();
    await rm(link);
    before = await treeState(root);
  });

  it('a symlinked /etc/modprobe.d folder', async () => {
    await symlink(join(outside, 'modprobe.d'), join(root, 'etc/modprobe.d'));
    before = await treeState(root);
    const res = cli(['0000:2b:00.0', '--root', root, '--apply', '--yes']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('/etc/modprobe.d is a symlink');
    await unchanged();
    await rm(join(root, 'etc/modprobe.d'));
    before = await treeState(root);
  });

  it('a backup manifest naming a path outside the allowed files', async () => {
    await put(root, 'var/lib/gpu-bridge/persist/manifest.json', JSON.stringify({ version: 1, target: '0000:2b:00.0', appliedAt: 'x', commands: [], createdDirs: [], files: [{ path: '/etc/../../outside/victim.conf', existed: false, mode: 420, uid: 0, gid: 0, backup: null, originalSha256: null, writtenSha256: 'x' }] }), 0o600);
    before = await treeState(root);
    const res = cli(['--undo', '--root', root]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('not a GPU Bridge backup manifest');
    await unchanged();
  });

  it.skipIf(process.getuid?.() === 0)('writing the live / needs root', () => {
    const res = cli(['0000:2b:00.0', '--apply', '--yes']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('needs root');
  });
});
