// Builds (once, cached under .cache/vfio-kernel) what the real-kernel VFIO test boots: Debian's kernel
// fetched with `apt-get download`, and a tiny busybox initramfs with the modules the test needs. The
// guest's /init runs /project/.cache/vfio-kernel/<gbscript> (kernel command line `gbscript=NAME`,
// default guest.sh): each test writes its own script and names it.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export const MODULES = ['vfio', 'vfio_iommu_type1', 'vfio_pci', 'bochs', 'snd_hda_intel', 'nvme', 'virtio_pci', '9pnet_virtio', '9p'];

const INIT = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /modules/order); do insmod /modules/$m 2>/dev/null; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostusr /usr || echo "GBTEST FATAL mount usr"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 project /project || echo "GBTEST FATAL mount project"
export PATH=/bin:/usr/bin HOME=/tmp
script=guest.sh
for word in $(cat /proc/cmdline); do case "$word" in gbscript=*) script=\${word#gbscript=};; esac; done
case "$script" in *[!A-Za-z0-9._-]*) echo "GBTEST FATAL bad gbscript"; script=guest.sh;; esac
sh /project/.cache/vfio-kernel/$script 2>&1
echo "GBTEST DONE"
poweroff -f
`;

/** What the cached initramfs was built from: a new module or a new /init rebuilds it. */
const STAMP = createHash('sha256').update(JSON.stringify({ MODULES, INIT })).digest('hex').slice(0, 16);

export interface GuestKit {
  version: string;
  kernel: string;
  initrd: string;
}

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', cwd, timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why the QEMU test cannot run here, or null. */
export function missingTools(): string | null {
  for (const tool of ['/usr/bin/qemu-system-x86_64', '/bin/busybox', '/usr/sbin/depmod', '/usr/sbin/modprobe', '/usr/bin/cpio', '/usr/bin/apt-get', '/usr/bin/node', '/usr/bin/python3']) {
    if (!existsSync(tool)) return `${tool} is missing (Debian packages qemu-system-x86, busybox-static, kmod, cpio, nodejs, python3)`;
  }
  return null;
}

export function prepareGuestKit(cacheDir: string): GuestKit {
  mkdirSync(cacheDir, { recursive: true });
  const deps = sh('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends: linux-image-(\d[^\s]*)-amd64/.exec(deps);
  if (!m?.[1]) throw new Error(`cannot tell which kernel linux-image-amd64 points to:\n${deps}`);
  const version = `${m[1]}-amd64`;
  const dir = join(cacheDir, version);
  const kernel = join(dir, 'root', 'boot', `vmlinuz-${version}`);
  const initrd = join(dir, 'initramfs.img');
  const stampFile = join(dir, 'kit-stamp');
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  if (existsSync(kernel) && existsSync(initrd) && stamp === STAMP) return { version, kernel, initrd };

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('apt-get', ['download', `linux-image-${version}`], dir);
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download produced no .deb');
  const root = join(dir, 'root');
  sh('dpkg', ['-x', join(dir, deb), root]);
  rmSync(join(dir, deb));
  sh('/usr/sbin/depmod', ['-b', root, version]);

  const ird = join(dir, 'initramfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'usr', 'project', 'modules', 'tmp', 'lib', 'lib64', 'etc']) mkdirSync(join(ird, d), { recursive: true });
  copyFileSync('/bin/busybox', join(ird, 'bin', 'busybox'));
  chmodSync(join(ird, 'bin', 'busybox'), 0o755);
  for (const applet of sh('/bin/busybox', ['--list']).split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox')) {
    try {
      symlinkSync('busybox', join(ird, 'bin', applet));
    } catch {
      // duplicate
    }
  }
  symlinkSync('/usr/lib/x86_64-linux-gnu', join(ird, 'lib', 'x86_64-linux-gnu'));
  symlinkSync('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(ird, 'lib64', 'ld-linux-x86-64.so.2'));
  const order: string[] = [];
  for (const mod of MODULES) {
    const out = sh('/usr/sbin/modprobe', ['-d', root, '-S', version, '--show-depends', mod]);
    for (const line of out.split('\n')) {
      const ins = /^insmod (\S+)/.exec(line.trim());
      if (!ins?.[1]) continue;
      let name = basename(ins[1]);
      if (order.includes(name.replace(/\.(xz|zst|gz)$/, ''))) continue;
      const dest = join(ird, 'modules', name);
      copyFileSync(ins[1], dest);
      if (name.endsWith('.xz')) {
        sh('xz', ['-d', '-f', dest]);
        name = name.slice(0, -3);
      }
      order.push(name);
    }
  }
  writeFileSync(join(ird, 'modules', 'order'), `${order.join('\n')}\n`);
  writeFileSync(join(ird, 'init'), INIT);
  chmodSync(join(ird, 'init'), 0o755);
  execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet | gzip -1 > ../initramfs.img'], { cwd: ird, timeout: 120_000 });
  rmSync(ird, { recursive: true, force: true });
  // keep only the kernel image of the extracted package
  for (const entry of readdirSync(root)) if (entry !== 'boot') rmSync(join(root, entry), { recursive: true, force: true });
  writeFileSync(stampFile, `${STAMP}\n`);
  return { version, kernel, initrd };
}

/** What one guest boot printed: its `GBTEST key value` lines, the console, and how long it ran. */
export interface GuestRun {
  lines: Map<string, string>;
  console: string;
  wallSeconds: number;
  status: number | null;
  /** A `GBTEST key` line's value; throws with the console's tail when the guest never printed it. */
  line(key: string): string;
  /** A `GBTEST key rc=N {json}` line: the helper's exit code and JSON answer. */
  answer<T>(key: string): { rc: number; json: T };
}

/**
 * Boots the kit under QEMU (TCG, one vCPU, an emulated VT-d, the host's /usr and the project over 9p)
 * with `devices` added, runs `script` (already written to `cacheDir`) as the guest's /init script, and
 * collects its GBTEST lines; the console is saved as `consoleFile` in `cacheDir`.
 */
export function runGuest(kit: GuestKit, options: { cacheDir: string; project: string; devices: string[]; script: string; timeoutS: number; consoleFile: string }): GuestRun {
  const started = Date.now();
  // prettier-ignore
  const qemu = [
    '-machine', 'q35,accel=tcg', '-cpu', 'max', '-smp', '1', '-m', '512',
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-device', 'intel-iommu,intremap=on,caching-mode=on',
    ...options.devices,
    '-virtfs', 'local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on',
    '-virtfs', `local,path=${options.project},mount_tag=project,security_model=none`,
    '-kernel', kit.kernel, '-initrd', kit.initrd,
    '-append', `console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet gbscript=${options.script}`,
  ];
  const res = spawnSync('timeout', ['-k', '5', String(options.timeoutS), 'qemu-system-x86_64', ...qemu], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wallSeconds = (Date.now() - started) / 1000;
  const text = `${res.stdout}\n${res.stderr}`;
  writeFileSync(join(options.cacheDir, options.consoleFile), text);
  const lines = new Map<string, string>();
  for (const l of text.split(/\r?\n/)) {
    const m = /GBTEST (\S+) ?(.*)$/.exec(l);
    if (m?.[1]) lines.set(m[1], (m[2] ?? '').trim());
  }
  const line = (key: string) => {
    const v = lines.get(key);
    if (v === undefined) throw new Error(`the guest printed no "GBTEST ${key}" line; console tail:\n${text.slice(-4000)}`);
    return v;
  };
  return {
    lines,
    console: text,
    wallSeconds,
    status: res.status,
    line,
    answer<T>(key: string) {
      const m = /^rc=(\d+) (.*)$/s.exec(line(key));
      if (!m) throw new Error(`unexpected ${key}: ${line(key)}`);
      return { rc: Number(m[1]), json: JSON.parse(m[2] as string) as T };
    },
  };
}
