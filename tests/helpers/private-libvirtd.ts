// A real libvirtd private to a test, which cannot disturb a libvirtd of the host: it runs in its own mount
// namespace (unshare -m) where /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
// /var/log/libvirt are the test's temporary directories, with its own libvirtd.conf (socket in the temporary
// directory, reached through LIBVIRT_DEFAULT_URI=qemu:///system?socket=…) and qemu.conf. qemu.conf runs QEMU as
// root: as the default libvirt-qemu user, /dev/kvm (root-only on CI VMs) is unusable, and libvirt 9.0 then
// re-probes QEMU's capabilities on every call ("KVM was enabled when probing … but it is not available now"),
// 10–50 s each. libvirtd still resolves its compiled-in default user at start (without it: "Initialization of
// QEMU state driver failed: Failed to parse user 'libvirt-qemu'", and it exits 0), so the libvirt-qemu user
// and group are created when missing, as Debian's libvirt-daemon-system would.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand, type RunResult } from '../../src/core/exec/run-command';

/** Why a private libvirtd cannot run here, or null when it can. */
export function privateLibvirtdMissing(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (a system-mode libvirtd and a private mount namespace)';
  for (const bin of ['/usr/sbin/libvirtd', '/usr/bin/virsh', '/usr/bin/qemu-system-x86_64']) if (!existsSync(bin)) return `needs ${bin} (Debian: libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)`;
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so') && !existsSync('/usr/lib64/libvirt/connection-driver/libvirt_driver_qemu.so')) return 'needs the QEMU driver of libvirtd (Debian: libvirt-daemon-driver-qemu)';
  const ns = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { timeout: 10_000 });
  if (ns.status !== 0) return `needs a private mount namespace (unshare -m failed: ${String(ns.stderr ?? ns.error).trim().slice(0, 200)}) so that the test's libvirtd cannot touch the host's`;
  return null;
}

/** A small TCG domain: no disk, it would sit in firmware if started. */
export function tinyDomainXml(name: string): string {
  return [
    `<domain type='qemu'>`,
    `  <name>${name}</name>`,
    `  <memory unit='MiB'>64</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os><type arch='x86_64' machine='q35'>hvm</type></os>`,
    `  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

async function ensureQemuUser(): Promise<void> {
  const has = (db: string) => spawnSync('getent', [db, 'libvirt-qemu']).status === 0;
  if (!has('group')) execFileSync('groupadd', ['--system', 'libvirt-qemu']);
  if (!has('passwd')) execFileSync('useradd', ['--system', '--gid', 'libvirt-qemu', '--home-dir', '/var/lib/libvirt', '--no-create-home', '--shell', '/usr/sbin/nologin', 'libvirt-qemu']);
}

export interface PrivateLibvirtd {
  uri: string;
  /** The environment that points virsh (and GPU Bridge) at it. */
  env: NodeJS.ProcessEnv;
  virsh(...args: string[]): Promise<RunResult>;
  /** Defines a tiny domain of that name (the first define probes QEMU: a few seconds). */
  define(name: string): Promise<void>;
  /** Destroys and undefines what was defined, then stops the daemon. */
  stop(): Promise<void>;
}

/** Starts libvirtd with its state under `dir` (which must exist); resolves once virsh answers. */
export async function startPrivateLibvirtd(dir: string): Promise<PrivateLibvirtd> {
  await ensureQemuUser();
  const log: string[] = [];
  const defined: string[] = [];
  for (const sub of ['sock', 'etc', 'run', 'lib', 'cache', 'log']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  await writeFile(
    join(dir, 'etc', 'libvirtd.conf'),
    [`unix_sock_dir = "${dir}/sock"`, 'unix_sock_rw_perms = "0700"', 'auth_unix_rw = "none"', 'auth_unix_ro = "none"', `log_outputs = "3:file:${dir}/libvirtd.log"`, ''].join('\n'),
  );
  await writeFile(join(dir, 'etc', 'qemu.conf'), ['user = "root"', 'group = "root"', 'dynamic_ownership = 0', 'security_driver = "none"', 'stdio_handler = "file"', ''].join('\n'));
  // a fixed script, the directory as $1: the bind mounts live and die with the namespace
  await writeFile(
    join(dir, 'start.sh'),
    [
      'set -e',
      't="$1"',
      'mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt',
      'mount --bind "$t/etc" /etc/libvirt',
      'mount --bind "$t/run" /run/libvirt',
      'mount --bind "$t/lib" /var/lib/libvirt',
      'mount --bind "$t/cache" /var/cache/libvirt',
      'mount --bind "$t/log" /var/log/libvirt',
      'exec libvirtd -f "$t/etc/libvirtd.conf" -p "$t/libvirtd.pid"',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('unshare', ['-m', '--propagation', 'private', '--', 'sh', join(dir, 'start.sh'), dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  const uri = `qemu:///system?socket=${dir}/sock/libvirt-sock`;
  const virsh = (...args: string[]) => runCommand('virsh', ['-c', uri, ...args], { timeoutMs: 120_000, env: { ...process.env, LC_ALL: 'C' } });
  const daemonLog = async () => `${log.join('')}${await readFile(join(dir, 'libvirtd.log'), 'utf8').then((t) => t.split('\n').slice(-15).join('\n'), () => '')}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`libvirtd exited ${child.exitCode}: ${await daemonLog()}`);
    if (existsSync(join(dir, 'sock', 'libvirt-sock')) && (await virsh('list', '--all', '--name')).code === 0) break;
    if (Date.now() > deadline) throw new Error(`libvirtd did not answer within 30 s: ${await daemonLog()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    uri,
    env: { ...process.env, LIBVIRT_DEFAULT_URI: uri },
    virsh,
    async define(name) {
      const file = join(dir, `${name.replace(/\W/g, '_')}.xml`);
      await writeFile(file, tinyDomainXml(name));
      const res = await virsh('define', file);
      if (res.code !== 0) throw new Error(`virsh define ${name}: ${res.stderr}`);
      defined.push(name);
    },
    async stop() {
      if (child.exitCode === null) {
        for (const name of defined) {
          await virsh('destroy', '--', name); // QEMU outlives libvirtd: stop it first
          await virsh('undefine', '--', name);
        }
      }
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
