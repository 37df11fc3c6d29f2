import { copyFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runCommand } from '../exec/run-command';
import { which } from '../exec/which';
import { isValidBdf, pciDevicesDir } from './pci';
import { devicePathOf, readAncestors } from './pci-topology';
import { linkNameOrNull, pathExists, readTextOrNull, readTrimmedOrNull } from '../util/fs-read';
import { walkDeviceSubtree } from '../passthrough/host-loss';
import { readSriovLinks } from './sriov';
import type { MetricsSource } from '../metrics/sources';
import { recordSamples, writeSnapshotMeta } from './snapshot-extras';

/** Files copied from each PCI function's sysfs directory (DESIGN.md's host-snapshot format). */
export const PCI_FILES = [
  'vendor', 'device', 'class', 'subsystem_vendor', 'subsystem_device', 'boot_vga', 'numa_node', 'sriov_totalvfs',
  'sriov_numvfs', 'reset_method', 'driver_override', 'current_link_speed', 'current_link_width', 'max_link_speed',
  'max_link_width', 'mem_info_vram_total',
];

const PROC_FILES = ['proc/cmdline', 'proc/cpuinfo', 'proc/meminfo', 'proc/sys/kernel/osrelease', 'etc/os-release', 'proc/net/route', 'proc/net/ipv6_route'];

/**
 * What the passthrough plan reads to say what the host would lose with a function: the input devices,
 * HID interfaces, block devices (with their dm holders) and network interfaces under it, and the
 * /dev-backed lines of /proc/mounts.
 */
async function copyHostLossEvidence(root: string, address: string, outDir: string): Promise<number> {
  const tree = await walkDeviceSubtree(root, address);
  let count = 0;
  const put = async (file: string, value: string) => {
    await mkdir(dirname(join(outDir, file)), { recursive: true });
    await writeFile(join(outDir, file), `${value}\n`);
    count += 1;
  };
  for (const i of tree.inputs) await put(i.file, i.name);
  for (const h of tree.hidInterfaces) {
    await put(h.file, '03');
    if (h.product) await put(join(dirname(dirname(h.file)), 'product'), h.product);
  }
  for (const b of tree.blocks) {
    await mkdir(join(outDir, b.file, 'queue'), { recursive: true });
    for (const holder of await list(join(root, 'sys', 'class', 'block', b.name, 'holders'))) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(holder)) continue;
      await put(`sys/class/block/${b.name}/holders/${holder}`, '');
      const dmName = await readTrimmedOrNull(join(root, 'sys', 'class', 'block', holder, 'dm', 'name'));
      if (dmName) await put(`sys/class/block/${holder}/dm/name`, dmName);
    }
  }
  for (const n of tree.netIfaces) await mkdir(join(outDir, n.file), { recursive: true });
  if (tree.blocks.length > 0 && !(await pathExists(join(outDir, 'proc', 'mounts')))) {
    const mounts = (await readTextOrNull(join(root, 'proc', 'mounts'))) ?? '';
    await put('proc/mounts', mounts.split('\n').filter((l) => l.startsWith('/dev/')).join('\n'));
  }
  return count;
}

async function copyIfReadable(from: string, to: string): Promise<boolean> {
  try {
    const s = await stat(from);
    if (!s.isFile()) return false;
    await mkdir(join(to, '..'), { recursive: true });
    await copyFile(from, to);
    return true;
  } catch {
    return false;
  }
}

const linkName = linkNameOrNull;

async function list(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

export interface SnapshotOptions {
  /** Where to read from: '/' live. */
  root?: string;
  /** Run nvidia-smi and ffmpeg to capture their outputs (off in tests). */
  runCommands?: boolean;
  /** A short series of GPU samples for the dashboard of `serve --from`: the source and how many seconds. */
  samples?: { source: MetricsSource; seconds: number; onTick?: (second: number) => void };
}

/** Writes a host snapshot directory at `outDir` (must not exist or be empty). Returns the files written. */
export async function writeSnapshotDir(outDir: string, options: SnapshotOptions = {}): Promise<number> {
  const root = options.root ?? '/';
  let count = 0;
  await mkdir(outDir, { recursive: true });
  for (const address of (await list(pciDevicesDir(root))).filter(isValidBdf)) {
    const from = join(pciDevicesDir(root), address);
    const to = join(outDir, 'sys', 'bus', 'pci', 'devices', address);
    // The function's place in the bridge tree: its real directory where the kernel has it, linked from sys/bus/pci/devices.
    const ancestors = await readAncestors(root, address);
    const real = ancestors === null ? to : join(outDir, devicePathOf(address, ancestors));
    await mkdir(real, { recursive: true });
    if (real !== to) {
      await mkdir(dirname(to), { recursive: true });
      await symlink(relative(dirname(to), real), to);
    }
    for (const f of PCI_FILES) if (await copyIfReadable(join(from, f), join(real, f))) count += 1;
    const driver = await linkName(join(from, 'driver'));
    if (driver && /^[\w.-]{1,64}$/.test(driver)) await symlink(relative(real, join(outDir, 'sys', 'bus', 'pci', 'drivers', driver)), join(real, 'driver'));
    const group = await linkName(join(from, 'iommu_group'));
    if (group && /^\d{1,6}$/.test(group)) await symlink(relative(real, join(outDir, 'sys', 'kernel', 'iommu_groups', group)), join(real, 'iommu_group'));
    const sriov = await readSriovLinks(root, address);
    if (sriov.physfn) await symlink(`../${sriov.physfn}`, join(real, 'physfn'));
    for (const [i, vf] of sriov.virtfns.entries()) await symlink(`../${vf}`, join(real, `virtfn${i}`));
    count += await copyHostLossEvidence(root, address, outDir);
  }
  const groupsDir = join(root, 'sys', 'kernel', 'iommu_groups');
  for (const g of (await list(groupsDir)).filter((n) => /^\d+$/.test(n))) {
    const to = join(outDir, 'sys', 'kernel', 'iommu_groups', g, 'devices');
    await mkdir(to, { recursive: true });
    for (const d of (await list(join(groupsDir, g, 'devices'))).filter(isValidBdf)) {
      await writeFile(join(to, d), '');
      count += 1;
    }
  }
  for (const m of await list(join(root, 'sys', 'module'))) {
    if (/^[\w-]+$/.test(m)) await mkdir(join(outDir, 'sys', 'module', m), { recursive: true });
  }
  for (const t of ['DMAR', 'IVRS']) {
    const tables = join(root, 'sys', 'firmware', 'acpi', 'tables');
    if ((await list(tables)).includes(t)) {
      await mkdir(join(outDir, 'sys', 'firmware', 'acpi', 'tables'), { recursive: true });
      await writeFile(join(outDir, 'sys', 'firmware', 'acpi', 'tables', t), ''); // presence only
      count += 1;
    }
  }
  for (const f of PROC_FILES) if (await copyIfReadable(join(root, f), join(outDir, f))) count += 1;
  if (options.runCommands ?? root === '/') {
    await mkdir(join(outDir, 'cmd'), { recursive: true });
    const captures: Array<[string, string[], string]> = [
      ['nvidia-smi', ['-q', '-x'], 'nvidia-smi.xml'],
      ['ffmpeg', ['-hide_banner', '-encoders'], 'ffmpeg-encoders.txt'],
    ];
    for (const [cmd, args, file] of captures) {
      const exe = which(cmd);
      if (!exe) continue;
      const r = await runCommand(exe, args, { timeoutMs: 30_000 });
      if (r.code === 0) {
        await writeFile(join(outDir, 'cmd', file), r.stdout);
        count += 1;
      }
    }
  }
  await writeSnapshotMeta(outDir);
  count += 1;
  if (options.samples && options.samples.seconds > 0) {
    await recordSamples(outDir, options.samples.source, options.samples.seconds, options.samples.onTick);
    count += 1;
  }
  return count;
}

/** Writes a snapshot as `.tar.gz` (when the name ends so) or as a directory. */
export async function writeSnapshot(out: string, options: SnapshotOptions = {}): Promise<{ path: string; files: number }> {
  if (!/\.t(ar\.)?gz$/.test(out)) return { path: out, files: await writeSnapshotDir(out, options) };
  const tmp = await mkdtemp(join(tmpdir(), 'gpu-bridge-snapshot-'));
  try {
    const files = await writeSnapshotDir(join(tmp, 'snapshot'), options);
    const r = await runCommand('tar', ['-czf', out, '-C', join(tmp, 'snapshot'), '.'], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`tar failed: ${r.spawnError ?? r.stderr.trim()}`);
    return { path: out, files };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Opens a snapshot: a directory is used as is; a .tar.gz is extracted to a temporary directory. */
export async function openSnapshot(path: string): Promise<{ root: string; close(): Promise<void> }> {
  const s = await stat(path);
  if (s.isDirectory()) return { root: path, close: async () => {} };
  const tmp = await mkdtemp(join(tmpdir(), 'gpu-bridge-from-'));
  const r = await runCommand('tar', ['-xzf', path, '-C', tmp, '--no-same-owner', '--no-same-permissions'], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`cannot extract ${path}: ${r.spawnError ?? (r.stderr.trim() || `tar exit ${r.code}`)}`);
  }
  return { root: tmp, close: () => rm(tmp, { recursive: true, force: true }) };
}
