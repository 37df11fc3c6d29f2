import { join } from 'node:path';
import type { Encoders, Gpu, HostInfo, Inventory, NvidiaDetails, PciMember } from '../../shared/contract/inventory';
import { runCommand } from '../exec/run-command';
import { ffmpegEncodersOutput } from '../exec/ffmpeg-encoders-cache';
import { which } from '../exec/which';
import { encoderSessionLimit, encodersForArch, nvidiaArchFromDeviceId, nvidiaArchFromName, parseFfmpegNvencEncoders } from './encoders';
import { readHostInfo, readLiveHostInfo } from './host';
import { normaliseBusId, parseNvidiaSmiXml, type NvidiaSmiGpu, type NvidiaSmiLog } from './nvidia-smi-xml';
import { nvmlLog } from '../nvml/inventory';
import { Nvml } from '../nvml/nvml';
import { PciIds } from './pci-ids';
import { readIommuGroups, readPciFunctions, type PciFunction } from './pci';
import { readSriovLinks } from './sriov';
import { readTrimmedOrNull } from '../util/fs-read';

export interface InventoryOptions {
  /** '/' for the live host, or a snapshot directory mirroring '/'. */
  root: string;
  /** Live: run nvidia-smi and ask systeminformation. Snapshot: read cmd/nvidia-smi.xml. */
  live: boolean;
  /** Test seam: the `nvidia-smi -q -x` text to use instead of running or reading it. */
  nvidiaSmiXml?: string | null;
  /** NVML library path (live only; default libnvidia-ml.so.1, or GPU_BRIDGE_NVML_LIB). */
  nvmlLibrary?: string;
  /** A snapshot's recorded samples, per GPU: the name and memory its metrics source saw, where nothing else says. */
  recorded?: ReadonlyMap<string, RecordedGpu>;
  /**
   * A snapshot without a pci.ids of its own: name its devices from this machine's. The database names
   * vendor and device ids the same everywhere (no state of the recorded host), so a served snapshot
   * shows "GeForce RTX 2070 SUPER", not "nvidia GPU".
   */
  pciIdsFromThisMachine?: boolean;
}

/** What a snapshot's samples say of one GPU (`samples.jsonl`: the metrics source's name and memory). */
export interface RecordedGpu {
  name: string | null;
  memoryTotalBytes: number | null;
}

const VENDORS: Record<string, Gpu['vendor']> = { '10de': 'nvidia', '1002': 'amd', '8086': 'intel' };

function member(f: PciFunction): PciMember {
  return { address: f.address, vendorId: f.vendorId, deviceId: f.deviceId, classCode: f.classCode, driver: f.driver, isBridge: f.isBridge };
}

const readText = readTrimmedOrNull;

const GT_PER_GEN: Record<string, number> = { '2.5': 1, '5': 2, '5.0': 2, '8': 3, '8.0': 3, '16': 4, '16.0': 4, '32': 5, '32.0': 5, '64': 6, '64.0': 6 };

function linkGen(speed: string | null): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*GT\/s/.exec(speed ?? '');
  return m?.[1] ? (GT_PER_GEN[m[1]] ?? null) : null;
}

function linkWidth(raw: string | null): number | null {
  return raw && /^\d+$/.test(raw) && raw !== '0' ? Number(raw) : null;
}

async function readSysfsExtras(root: string, address: string): Promise<{ pcie: Gpu['pcie']; vramBytes: number | null }> {
  const dir = join(root, 'sys', 'bus', 'pci', 'devices', address);
  const [cs, cw, ms, mw, vram] = await Promise.all([
    readText(join(dir, 'current_link_speed')),
    readText(join(dir, 'current_link_width')),
    readText(join(dir, 'max_link_speed')),
    readText(join(dir, 'max_link_width')),
    readText(join(dir, 'mem_info_vram_total')), // amdgpu
  ]);
  return {
    pcie: { currentGen: linkGen(cs), maxGen: linkGen(ms), currentWidth: linkWidth(cw), maxWidth: linkWidth(mw) },
    vramBytes: vram && /^\d+$/.test(vram) ? Number(vram) : null,
  };
}

function nvidiaDetails(x: NvidiaSmiGpu, log: NvidiaSmiLog & { source?: 'nvml' }): NvidiaDetails {
  return {
    uuid: x.uuid,
    driverVersion: log.driverVersion,
    cudaVersion: log.cudaVersion,
    brand: x.brand,
    architecture: x.architecture,
    vbiosVersion: x.vbiosVersion,
    virtualizationMode: x.virtualizationMode,
    migMode: x.migMode,
    migDevices: x.migDevices,
    memoryUsedBytes: x.memoryUsedBytes,
    temperatureC: x.temperatureC,
    powerDrawW: x.powerDrawW,
    powerLimitW: x.powerLimitW,
    clocksMHz: x.clocksMHz,
    encoderSessions: x.encoderSessions,
    source: log.source ?? 'nvidia-smi',
  };
}

function nvidiaEncoders(deviceId: string | null, x: NvidiaSmiGpu | null): Encoders {
  // A vGPU slice or a name that says GA100/GH100 wins over the device-id range.
  const arch = nvidiaArchFromName(x?.architecture ?? null, x?.name ?? null) ?? nvidiaArchFromDeviceId(deviceId);
  const byId = nvidiaArchFromDeviceId(deviceId);
  return encodersForArch(byId === 'Ampere-GA100' || byId === 'Hopper' ? byId : arch);
}

async function nvidiaSmiText(options: InventoryOptions, warnings: string[]): Promise<string | null> {
  if (options.nvidiaSmiXml !== undefined) return options.nvidiaSmiXml;
  if (!options.live) return readText(join(options.root, 'cmd', 'nvidia-smi.xml'));
  const exe = which('nvidia-smi');
  if (!exe) return null;
  const r = await runCommand(exe, ['-q', '-x'], { timeoutMs: 20_000 });
  if (r.code !== 0) {
    warnings.push(`nvidia-smi -q -x failed: ${r.spawnError ?? (r.stderr.trim() || `exit ${r.code}`)}`);
    return null;
  }
  return r.stdout;
}

async function ffmpegEncodersText(options: InventoryOptions): Promise<string | null> {
  if (!options.live) return readText(join(options.root, 'cmd', 'ffmpeg-encoders.txt'));
  const exe = which('ffmpeg');
  return exe ? ffmpegEncodersOutput(exe) : null;
}

/** Builds one Gpu record per display controller (PCI class 0x03xx), merged with NVML's view (live) or nvidia-smi's XML. */
export async function buildInventory(options: InventoryOptions): Promise<Inventory> {
  const { root } = options;
  const warnings: string[] = [];
  let log: (NvidiaSmiLog & { source?: 'nvml' }) | null = null;
  // Live: NVML in-process first; nvidia-smi's XML is the fallback where NVML cannot load.
  const nvml = options.live && options.nvidiaSmiXml === undefined ? Nvml.open(options.nvmlLibrary) : null;
  if (nvml) {
    try {
      log = nvmlLog(nvml);
    } finally {
      nvml.close();
    }
  }
  const [fns, groups, host, xmlText] = await Promise.all([
    readPciFunctions(root),
    readIommuGroups(root),
    options.live ? readLiveHostInfo() : readHostInfo(root),
    log === null ? nvidiaSmiText(options, warnings) : Promise.resolve(null),
  ]);
  // ffmpeg's NVENC encoders only matter next to an NVIDIA GPU: a host without one starts no ffmpeg
  const nvidia = fns.some((f) => f.vendorId === '10de' && f.classCode.startsWith('03'));
  const ffmpegText = nvidia || !options.live ? await ffmpegEncodersText(options) : null;
  if (log === null && xmlText !== null) {
    try {
      log = parseNvidiaSmiXml(xmlText);
    } catch (error) {
      warnings.push(`nvidia-smi XML unreadable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const byAddress = new Map(fns.map((f) => [f.address, f]));
  const smiByAddress = new Map((log?.gpus ?? []).map((g) => [g.address, g]));
  const display = fns.filter((f) => f.classCode.startsWith('03'));
  let pciIds: PciIds | null = null;
  const gpus: Gpu[] = [];

  for (const f of display) {
    const x = smiByAddress.get(f.address) ?? null;
    smiByAddress.delete(f.address);
    const [extras, links] = await Promise.all([readSysfsExtras(root, f.address), readSriovLinks(root, f.address)]);
    const groupAddrs = f.iommuGroup !== null ? (groups.get(f.iommuGroup) ?? [f.address]) : [];
    const groupMembers = groupAddrs.map(
      (a) => (byAddress.get(a) ? member(byAddress.get(a) as PciFunction) : { address: a, vendorId: null, deviceId: null, classCode: null, driver: null, isBridge: false }),
    );
    const slot = f.address.slice(0, -2);
    const functions = fns.filter((o) => o.address.startsWith(`${slot}.`)).map(member);
    const vendor = VENDORS[f.vendorId] ?? 'other';
    const sources: Gpu['sources'] = ['sysfs'];
    let name = x?.name ?? null;
    if (name) sources.push(log?.source ?? 'nvidia-smi');
    const recorded = options.recorded?.get(f.address) ?? null;
    if (!name && recorded?.name) {
      name = recorded.name;
      sources.push('samples');
    }
    if (!name) {
      pciIds ??= await PciIds.load(root); // 1 MB+ file: read only when a GPU needs a name from it
      if (!pciIds.available && options.pciIdsFromThisMachine && root !== '/') pciIds = await PciIds.load('/');
      name = pciIds.deviceName(f.vendorId, f.deviceId);
      if (name) sources.push('pci.ids');
    }
    const encoders: Encoders = vendor === 'nvidia' ? nvidiaEncoders(f.deviceId, x) : { h264: null, hevc: null, av1: null };
    if (vendor === 'nvidia' && encoders.h264 !== null) sources.push('chip-table');
    gpus.push({
      address: f.address,
      vendor,
      vendorId: f.vendorId,
      deviceId: f.deviceId,
      subsystemVendorId: f.subsystemVendorId,
      subsystemDeviceId: f.subsystemDeviceId,
      classCode: f.classCode,
      name,
      driver: f.driver,
      driverOverride: f.driverOverride,
      iommuGroup: f.iommuGroup,
      groupMembers,
      functions,
      bootVga: f.bootVga,
      numaNode: f.numaNode,
      resetMethod: f.resetMethod,
      sriov: {
        totalVfs: f.sriovTotalVfs,
        numVfs: f.sriovNumVfs,
        physfn: links.physfn,
        vfs: links.virtfns.map((a) => ({ address: a, iommuGroup: byAddress.get(a)?.iommuGroup ?? null, driver: byAddress.get(a)?.driver ?? null })),
      },
      pcie: {
        currentGen: extras.pcie.currentGen ?? x?.pcie.currentGen ?? null,
        maxGen: extras.pcie.maxGen ?? x?.pcie.maxGen ?? null,
        currentWidth: extras.pcie.currentWidth ?? x?.pcie.currentWidth ?? null,
        maxWidth: extras.pcie.maxWidth ?? x?.pcie.maxWidth ?? null,
      },
      memoryTotalBytes: x?.memoryTotalBytes ?? extras.vramBytes ?? recorded?.memoryTotalBytes ?? null,
      encoders,
      encoderSessionLimit: vendor === 'nvidia' ? encoderSessionLimit(encoders, x?.brand ?? null, name, log?.driverVersion ?? null) : null,
      nvidia: x && log ? nvidiaDetails(x, log) : null,
      sources,
    });
  }

  // GPUs nvidia-smi reports that the sys tree does not show (a snapshot holding only cmd/nvidia-smi.xml).
  for (const x of smiByAddress.values()) {
    if (!log) break;
    const encoders = nvidiaEncoders(x.deviceId, x);
    gpus.push({
      address: x.address,
      vendor: 'nvidia',
      vendorId: x.vendorId ?? '10de',
      deviceId: x.deviceId,
      subsystemVendorId: x.subsystemVendorId,
      subsystemDeviceId: x.subsystemDeviceId,
      classCode: null,
      name: x.name,
      driver: null,
      driverOverride: null,
      iommuGroup: null,
      groupMembers: [],
      functions: [],
      bootVga: null,
      numaNode: null,
      resetMethod: null,
      sriov: { totalVfs: null, numVfs: null, physfn: null, vfs: [] },
      pcie: x.pcie,
      memoryTotalBytes: x.memoryTotalBytes,
      encoders,
      encoderSessionLimit: encoderSessionLimit(encoders, x.brand, x.name, log.driverVersion),
      nvidia: nvidiaDetails(x, log),
      sources: encoders.h264 !== null ? [log.source ?? 'nvidia-smi', 'chip-table'] : [log.source ?? 'nvidia-smi'],
    });
  }
  gpus.sort((a, b) => a.address.localeCompare(b.address));
  const ffmpegNvenc = ffmpegText === null ? null : parseFfmpegNvencEncoders(ffmpegText);
  if (ffmpegNvenc && gpus.some((g) => g.encoders.h264) && !ffmpegNvenc.h264) {
    warnings.push('this ffmpeg has no h264_nvenc encoder: hardware encoding will fall back to software');
  }
  return { gpus, host: host satisfies HostInfo, displayControllers: display.map(member), ffmpegNvenc, warnings };
}

export { normaliseBusId };
