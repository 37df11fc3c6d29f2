import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPciFunctions } from '../inventory/pci';
import { detectBoot, type HostBoot } from './checks';
import { readCmdline, type PassthroughPlan } from './plan';

export interface FileChange {
  /** Absolute path on the host (the file lives at join(root, path)). */
  path: string;
  before: string | null;
  after: string;
}

export interface PersistentSetup {
  boot: HostBoot;
  kernelParams: string[];
  changes: FileChange[];
  /** Commands to run after writing the files (regenerate the bootloader config and the initramfs). */
  commands: string[][];
  notes: string[];
}

async function read(root: string, path: string): Promise<string | null> {
  try {
    return await readFile(join(root, path), 'utf8');
  } catch {
    return null;
  }
}

function addParams(line: string, params: string[]): string {
  const words = line.split(/\s+/).filter(Boolean);
  for (const p of params) if (!words.includes(p)) words.push(p);
  return words.join(' ');
}

/**
 * Why a boot-time `vfio-pci.ids=` line cannot carry this plan, or null when it can. It binds by
 * vendor:device id, so it would also take every other device with the same id (a second, identical GPU;
 * the host's own USB controller of the same model), which the plan does not move; and a virtual function
 * does not exist yet at boot (its PF creates it when sriov_numvfs is written).
 */
export async function persistRefusal(root: string, plan: PassthroughPlan): Promise<string | null> {
  if (plan.physfn !== null) {
    return `${plan.target} is a virtual function of ${plan.physfn}: it exists only once the VFs are enabled after boot, so a boot-time vfio-pci.ids line cannot bind it. Enable the VFs and bind it at run time (gpu-bridge passthrough sriov ${plan.physfn} --vfs N, then passthrough bind ${plan.target})`;
  }
  const fns = await readPciFunctions(root);
  const moving = new Set(plan.devices.map((d) => d.address));
  const idOf = (f: { vendorId: string; deviceId: string }) => `${f.vendorId}:${f.deviceId}`;
  const ids = new Set(fns.filter((f) => moving.has(f.address)).map(idOf));
  const alsoTaken = fns.filter((f) => !moving.has(f.address) && !f.isBridge && ids.has(idOf(f)));
  if (alsoTaken.length === 0) return null;
  return `vfio-pci.ids binds by vendor:device id, and ${alsoTaken.map((f) => `${f.address} (${idOf(f)}, ${f.driver ?? 'no driver'})`).join(', ')} has the same id as a device of the plan: it would leave the host at every boot too. Bind ${plan.target} at run time instead (gpu-bridge passthrough bind ${plan.target})`;
}

/** The files persistent passthrough changes on this host, and the commands that make them take effect. Reads only (persist-apply.ts writes). */
export async function planPersistentSetup(root: string, plan: PassthroughPlan): Promise<PersistentSetup> {
  const boot = await detectBoot(root);
  const fns = await readPciFunctions(root);
  const cpuinfo = (await read(root, 'proc/cpuinfo')) ?? '';
  const amd = /\bsvm\b/.test(cpuinfo) || fns.some((f) => f.vendorId === '1022' && f.classCode.startsWith('0600'));
  const cmdline = (await readCmdline(root)) ?? '';
  const kernelParams = [amd ? 'amd_iommu=on' : 'intel_iommu=on', 'iommu=pt'].filter((p) => !cmdline.split(/\s+/).includes(p));
  const changes: FileChange[] = [];
  const commands: string[][] = [];
  const notes: string[] = [];

  if (kernelParams.length > 0) {
    if (boot.bootloader === 'grub') {
      const before = (await read(root, 'etc/default/grub')) ?? '';
      let found = false;
      const after = before.replace(/^GRUB_CMDLINE_LINUX_DEFAULT=(["']?)(.*?)\1$/m, (_m, q: string, v: string) => {
        found = true;
        return `GRUB_CMDLINE_LINUX_DEFAULT=${q || '"'}${addParams(v, kernelParams)}${q || '"'}`;
      });
      changes.push({ path: '/etc/default/grub', before, after: found ? after : `${before}${before.endsWith('\n') || before === '' ? '' : '\n'}GRUB_CMDLINE_LINUX_DEFAULT="${kernelParams.join(' ')}"\n` });
      commands.push((await read(root, 'etc/debian_version')) !== null || /ID(_LIKE)?=.*(debian|ubuntu)/.test((await read(root, 'etc/os-release')) ?? '') ? ['update-grub'] : ['grub2-mkconfig', '-o', '/boot/grub2/grub.cfg']);
    } else if (boot.bootloader === 'systemd-boot') {
      const dir = 'boot/loader/entries';
      const entries = await readdir(join(root, dir)).catch(() => [] as string[]);
      for (const e of entries.filter((n) => n.endsWith('.conf')).sort()) {
        const before = (await read(root, `${dir}/${e}`)) ?? '';
        const after = before.replace(/^options\s+(.*)$/m, (_m, v: string) => `options ${addParams(v, kernelParams)}`);
        if (after !== before) changes.push({ path: `/${dir}/${e}`, before, after });
      }
    } else if (boot.bootloader === 'kernelstub') {
      commands.push(['kernelstub', ...kernelParams.flatMap((p) => ['-a', p])]);
    } else {
      notes.push(`add ${kernelParams.join(' ')} to the kernel command line of your bootloader`);
    }
  }

  const ids = [...new Set(plan.devices.map((d) => fns.find((f) => f.address === d.address)).filter((f) => f !== undefined).map((f) => `${f.vendorId}:${f.deviceId}`))];
  const drivers = [...new Set(plan.devices.map((d) => d.driver).filter((d): d is string => d !== null && d !== 'vfio-pci'))].sort();
  const modprobe = [
    '# Written by GPU Bridge: bind these devices to vfio-pci at boot, before their usual drivers.',
    `options vfio-pci ids=${ids.join(',')}`,
    ...drivers.map((d) => `softdep ${d.replace(/-/g, '_')} pre: vfio-pci`),
    '',
  ].join('\n');
  changes.push({ path: '/etc/modprobe.d/gpu-bridge-vfio.conf', before: await read(root, 'etc/modprobe.d/gpu-bridge-vfio.conf'), after: modprobe });

  const vfioModules = ['vfio', 'vfio_iommu_type1', 'vfio_pci'];
  if (boot.initramfs === 'initramfs-tools') {
    const before = (await read(root, 'etc/initramfs-tools/modules')) ?? '';
    const missing = vfioModules.filter((m) => !new RegExp(`^${m}\\b`, 'm').test(before));
    if (missing.length) changes.push({ path: '/etc/initramfs-tools/modules', before, after: `${before}${before === '' || before.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n` });
    commands.push(['update-initramfs', '-u']);
  } else if (boot.initramfs === 'dracut') {
    changes.push({ path: '/etc/dracut.conf.d/gpu-bridge-vfio.conf', before: await read(root, 'etc/dracut.conf.d/gpu-bridge-vfio.conf'), after: `force_drivers+=" ${vfioModules.join(' ')} "\n` });
    commands.push(['dracut', '-f']);
  } else if (boot.initramfs === 'mkinitcpio') {
    const before = (await read(root, 'etc/mkinitcpio.conf')) ?? '';
    const after = before.replace(/^MODULES=\((.*)\)$/m, (_m, v: string) => `MODULES=(${['vfio_pci', 'vfio', 'vfio_iommu_type1', ...v.split(/\s+/).filter((x) => x && !vfioModules.includes(x))].join(' ')})`);
    if (after !== before) changes.push({ path: '/etc/mkinitcpio.conf', before, after });
    commands.push(['mkinitcpio', '-P']);
  } else {
    notes.push('no initramfs tool detected: make sure vfio-pci loads before the GPU driver');
  }
  return { boot, kernelParams, changes: changes.filter((c) => c.before !== c.after), commands, notes };
}

/** A unified diff of one change (line based, longest common subsequence). */
export function unifiedDiff(change: FileChange): string {
  const a = (change.before ?? '').split('\n');
  const b = change.after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i -= 1) for (let j = m - 1; j >= 0; j -= 1) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out = [`--- ${change.before === null ? '/dev/null' : `a${change.path}`}`, `+++ b${change.path}`];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(` ${a[i]}`);
      i += 1;
      j += 1;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`-${a[i]}`);
      i += 1;
    } else {
      out.push(`+${b[j]}`);
      j += 1;
    }
  }
  return `${out.join('\n')}\n`;
}
