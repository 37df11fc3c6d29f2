import { join } from 'node:path';
import type { HostInfo } from '../../shared/contract/inventory';
import { pathExists, readTextOrNull } from '../util/fs-read';

const readText = readTextOrNull;
const exists = pathExists;

export function parseCpuinfo(text: string | null): { model: string | null; cores: number | null; flags: Set<string> | null } {
  if (text === null) return { model: null, cores: null, flags: null };
  let model: string | null = null;
  let processors = 0;
  let flags: Set<string> | null = null;
  for (const line of text.split('\n')) {
    const idx = line.indexOf(':');
    if (idx < 0) continue;
    const key = line.slice(0, idx).trim();
    const value = line.slice(idx + 1).trim();
    if (key === 'processor') processors += 1;
    else if (key === 'model name' && model === null) model = value;
    else if (key === 'flags' && flags === null) flags = new Set(value.split(/\s+/));
  }
  return { model, cores: processors > 0 ? processors : null, flags };
}

export function parseMeminfoTotal(text: string | null): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text ?? '');
  return m?.[1] ? Number(m[1]) * 1024 : null;
}

export function parseOsRelease(text: string | null): string | null {
  if (text === null) return null;
  const pretty = /^PRETTY_NAME=(.*)$/m.exec(text)?.[1] ?? /^NAME=(.*)$/m.exec(text)?.[1];
  return pretty ? pretty.trim().replace(/^["']|["']$/g, '') : null;
}

/**
 * Host facts from the proc/etc files under `root` (a snapshot, or '/'): proc/cpuinfo, proc/meminfo,
 * proc/sys/kernel/osrelease, etc/os-release, proc/cmdline, sys/firmware/acpi/tables/{DMAR,IVRS}.
 */
export async function readHostInfo(root: string): Promise<HostInfo> {
  const [cpuinfo, meminfo, osrelease, osRelease, cmdline, dmar, ivrs] = await Promise.all([
    readText(join(root, 'proc', 'cpuinfo')),
    readText(join(root, 'proc', 'meminfo')),
    readText(join(root, 'proc', 'sys', 'kernel', 'osrelease')),
    readText(join(root, 'etc', 'os-release')),
    readText(join(root, 'proc', 'cmdline')),
    exists(join(root, 'sys', 'firmware', 'acpi', 'tables', 'DMAR')),
    exists(join(root, 'sys', 'firmware', 'acpi', 'tables', 'IVRS')),
  ]);
  const cpu = parseCpuinfo(cpuinfo);
  return {
    cpuModel: cpu.model,
    cpuCores: cpu.cores,
    memoryTotalBytes: parseMeminfoTotal(meminfo),
    os: parseOsRelease(osRelease),
    kernel: osrelease?.trim() || null,
    virtualization: {
      vmx: cpu.flags ? cpu.flags.has('vmx') : null,
      svm: cpu.flags ? cpu.flags.has('svm') : null,
      hypervisor: cpu.flags ? cpu.flags.has('hypervisor') : null,
    },
    firmwareIommu: dmar ? 'DMAR' : ivrs ? 'IVRS' : null,
    cmdline: cmdline?.trim() || null,
  };
}

/** On a live host, fill what the proc files did not say through systeminformation. */
export async function readLiveHostInfo(): Promise<HostInfo> {
  const base = await readHostInfo('/');
  // The proc files say it all on Linux; systeminformation (slow: it runs programs) only fills the gaps.
  if (base.cpuModel && base.cpuCores && base.memoryTotalBytes && base.os && base.kernel) return base;
  try {
    const si = await import('systeminformation');
    const [cpu, mem, os] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
    return {
      ...base,
      cpuModel: base.cpuModel ?? (`${cpu.manufacturer} ${cpu.brand}`.trim() || null),
      cpuCores: base.cpuCores ?? (cpu.cores || null),
      memoryTotalBytes: base.memoryTotalBytes ?? (mem.total || null),
      os: base.os ?? (os.distro ? `${os.distro} ${os.release}`.trim() : null),
      kernel: base.kernel ?? (os.kernel || null),
    };
  } catch {
    return base;
  }
}
