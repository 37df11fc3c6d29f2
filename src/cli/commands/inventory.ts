import { buildInventory } from '../../core/inventory/inventory';
import { openSnapshot } from '../../core/inventory/snapshot';
import { readSnapshotSamples, recordedGpus } from '../../core/inventory/snapshot-extras';
import type { Gpu, Inventory } from '../../shared/contract/inventory';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';

function gib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1024 ** 3).toFixed(bytes % 1024 ** 3 === 0 ? 0 : 1)} GiB`;
}

function enc(g: Gpu): string {
  const e = g.encoders;
  if (e.h264 === null) return '?';
  const list = (['h264', 'hevc', 'av1'] as const).filter((k) => e[k]);
  return list.length ? list.join(',') : 'none';
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function renderInventory(inv: Inventory): string {
  const out: string[] = [];
  if (inv.gpus.length === 0) {
    out.push('No GPU found: the host shows no PCI display controller (class 0x03xx) and NVIDIA\'s tools report none.');
  } else {
    const rows = [['ADDRESS', 'VENDOR', 'NAME', 'DRIVER', 'GROUP', 'BOOT', 'MEMORY', 'NVENC', 'SESSIONS']];
    for (const g of inv.gpus) {
      rows.push([
        g.address,
        g.vendor,
        g.name ?? `${g.vendorId ?? '?'}:${g.deviceId ?? '?'}`,
        g.driver ?? '-',
        g.iommuGroup === null ? '-' : `${g.iommuGroup} (${g.groupMembers.length})`,
        g.bootVga === null ? '-' : g.bootVga ? 'yes' : 'no',
        gib(g.memoryTotalBytes),
        enc(g),
        g.encoderSessionLimit === null ? '-' : String(g.encoderSessionLimit),
      ]);
    }
    out.push(table(rows));
    for (const g of inv.gpus) {
      if (g.nvidia) {
        const n = g.nvidia;
        out.push(`${g.address}: driver ${n.driverVersion ?? '?'}, CUDA ${n.cudaVersion ?? '?'}, ${n.uuid ?? 'no UUID'}` +
          (n.migMode ? `, MIG ${n.migMode} (${n.migDevices.length} instances)` : '') +
          (n.virtualizationMode && n.virtualizationMode !== 'None' ? `, virtualization ${n.virtualizationMode}` : ''));
      }
      const others = g.groupMembers.filter((m) => m.address !== g.address);
      if (others.length) out.push(`${g.address}: IOMMU group also holds ${others.map((m) => `${m.address} [${m.classCode ?? '?'}] ${m.driver ?? '-'}${m.isBridge ? ' (bridge)' : ''}`).join(', ')}`);
    }
  }
  const h = inv.host;
  out.push(`host: ${h.cpuModel ?? 'CPU ?'} (${h.cpuCores ?? '?'} CPUs), ${gib(h.memoryTotalBytes)}, ${h.os ?? 'OS ?'}, kernel ${h.kernel ?? '?'}, ` +
    `VT-x ${h.virtualization.vmx ? 'yes' : 'no'}, AMD-V ${h.virtualization.svm ? 'yes' : 'no'}, IOMMU table ${h.firmwareIommu ?? 'none'}`);
  if (inv.ffmpegNvenc) {
    const list = (['h264', 'hevc', 'av1'] as const).filter((k) => inv.ffmpegNvenc?.[k]);
    out.push(`ffmpeg NVENC encoders: ${list.length ? list.map((k) => `${k}_nvenc`).join(', ') : 'none'}`);
  }
  for (const w of inv.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}

export const inventoryCommand: CliCommand = {
  name: 'inventory',
  summary: 'every GPU with its IOMMU group, driver, memory and encoders (live, or from a host snapshot)',
  usage: 'gpu-bridge inventory [--json] [--from SNAPSHOT_DIR_OR_TAR_GZ]',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' }, from: { type: 'string' } }, this.usage);
    let inv: Inventory;
    if (values.from !== undefined) {
      let snap: Awaited<ReturnType<typeof openSnapshot>>;
      try {
        snap = await openSnapshot(values.from);
      } catch (error) {
        throw new CliError(`cannot open snapshot ${values.from}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
      }
      try {
        inv = await buildInventory({ root: snap.root, live: false, recorded: recordedGpus(await readSnapshotSamples(snap.root)) });
      } finally {
        await snap.close();
      }
    } else {
      inv = await buildInventory({ root: '/', live: true });
    }
    process.stdout.write(values.json ? `${JSON.stringify(inv, null, 2)}\n` : renderInventory(inv));
    return 0;
  },
};
