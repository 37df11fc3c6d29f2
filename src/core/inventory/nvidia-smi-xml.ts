import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { MigDevice } from '../../shared/contract/inventory';

/** What `nvidia-smi -q -x` says about one GPU; null wherever the XML did not say (absent, N/A, deprecated). */
export interface NvidiaSmiGpu {
  /** Normalised to 'dddd:bb:dd.f' lowercase. */
  address: string;
  name: string | null;
  brand: string | null;
  architecture: string | null;
  uuid: string | null;
  vbiosVersion: string | null;
  /** Four lowercase hex digits, from pci_device_id (e.g. '20B210DE' → device '20b2'). */
  deviceId: string | null;
  vendorId: string | null;
  subsystemVendorId: string | null;
  subsystemDeviceId: string | null;
  virtualizationMode: string | null;
  migMode: string | null;
  migDevices: MigDevice[];
  memoryTotalBytes: number | null;
  memoryUsedBytes: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
  powerLimitW: number | null;
  fanPercent: number | null;
  utilization: { gpu: number | null; memory: number | null; encoder: number | null; decoder: number | null };
  clocksMHz: { graphics: number | null; sm: number | null; memory: number | null; video: number | null };
  encoderSessions: number | null;
  pcie: { currentGen: number | null; maxGen: number | null; currentWidth: number | null; maxWidth: number | null };
}

export interface NvidiaSmiLog {
  dtdVersion: number | null;
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: NvidiaSmiGpu[];
}

export class NvidiaSmiXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NvidiaSmiXmlError';
  }
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'gpu' || name === 'mig_device',
});

function child(node: unknown, ...path: string[]): unknown {
  let cur: unknown = node;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Node)[key];
  }
  return cur;
}

const UNSAID = /^(n\/a|\[n\/a\]|not supported|\[not supported\]|unknown error|requested functionality has been deprecated|none)?$/i;

/** The text of an element, or null when absent, empty, 'N/A' or deprecated. */
export function text(node: unknown, ...path: string[]): string | null {
  const v = child(node, ...path);
  let s: string | null = null;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number') s = String(v);
  else if (v && typeof v === 'object' && typeof (v as Node)['#text'] === 'string') s = (v as Node)['#text'] as string;
  if (s === null) return null;
  s = s.trim();
  return UNSAID.test(s) && s.toLowerCase() !== 'none' ? null : s === '' ? null : s;
}

/** Like text(), but 'None' also means "not said" (used for fields where None is not a value). */
function textNotNone(node: unknown, ...path: string[]): string | null {
  const s = text(node, ...path);
  return s === null || /^none$/i.test(s) ? null : s;
}

/** Leading number of '10240 MiB', '139.62 W', '27 C', '16x', '65 %'. */
export function num(node: unknown, ...path: string[]): number | null {
  const s = text(node, ...path);
  if (s === null) return null;
  const m = /^(-?\d+(?:\.\d+)?)/.exec(s);
  return m?.[1] ? Number(m[1]) : null;
}

function int(node: unknown, ...path: string[]): number | null {
  const n = num(node, ...path);
  return n === null || !Number.isInteger(n) ? null : n;
}

const UNIT_BYTES: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

function bytes(node: unknown, ...path: string[]): number | null {
  const s = text(node, ...path);
  if (s === null) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?i?b)?$/i.exec(s);
  if (!m?.[1]) return null;
  return Math.round(Number(m[1]) * (UNIT_BYTES[(m[2] ?? 'mib').toLowerCase()] ?? 1024 ** 2));
}

/** '00000000:01:00.0' → '0000:01:00.0'; '0000:0C:00.0' → '0000:0c:00.0'. Null when it is not a bus id. */
export function normaliseBusId(id: string | null | undefined): string | null {
  if (!id) return null;
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(id.trim());
  if (!m?.[1] || !m[2] || !m[3] || !m[4]) return null;
  const domain = m[1].slice(-4);
  if (!/^0*$/.test(m[1].slice(0, -4))) return null;
  return `${domain}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/** '20B210DE' → {device:'20b2', vendor:'10de'}: NVML packs the device id in the high 16 bits. */
function splitPciId(raw: string | null): { hi: string; lo: string } | null {
  if (!raw) return null;
  const m = /^(?:0x)?([0-9a-f]{8})$/i.exec(raw);
  if (!m?.[1]) return null;
  return { hi: m[1].slice(0, 4).toLowerCase(), lo: m[1].slice(4).toLowerCase() };
}

function parseMig(gpu: unknown): MigDevice[] {
  const list = child(gpu, 'mig_devices', 'mig_device');
  if (!Array.isArray(list)) return [];
  return list.map((d: unknown) => ({
    index: int(d, 'index'),
    gpuInstanceId: int(d, 'gpu_instance_id'),
    computeInstanceId: int(d, 'compute_instance_id'),
    memoryTotalBytes: bytes(d, 'fb_memory_usage', 'total'),
    memoryUsedBytes: bytes(d, 'fb_memory_usage', 'used'),
    multiprocessorCount: int(d, 'device_attributes', 'shared', 'multiprocessor_count'),
  }));
}

function parseGpu(gpu: unknown, index: number): NvidiaSmiGpu {
  const address =
    normaliseBusId(text(gpu, 'pci', 'pci_bus_id')) ?? normaliseBusId(text(gpu, '@_id'));
  if (!address) throw new NvidiaSmiXmlError(`GPU #${index} in the nvidia-smi XML has no PCI bus id`);
  const dev = splitPciId(text(gpu, 'pci', 'pci_device_id'));
  const sub = splitPciId(text(gpu, 'pci', 'pci_sub_system_id'));
  // Power moved from <power_readings> (v10/v11) to <gpu_power_readings> (v12+); draw to average/instant in v13.
  const power = child(gpu, 'gpu_power_readings') ?? child(gpu, 'power_readings');
  return {
    address,
    name: text(gpu, 'product_name'),
    brand: text(gpu, 'product_brand'),
    architecture: text(gpu, 'product_architecture'),
    uuid: text(gpu, 'uuid'),
    vbiosVersion: text(gpu, 'vbios_version'),
    deviceId: dev?.hi ?? null,
    vendorId: dev?.lo ?? null,
    subsystemDeviceId: sub?.hi ?? null,
    subsystemVendorId: sub?.lo ?? null,
    virtualizationMode: text(gpu, 'gpu_virtualization_mode', 'virtualization_mode'),
    migMode: textNotNone(gpu, 'mig_mode', 'current_mig'),
    migDevices: parseMig(gpu),
    memoryTotalBytes: bytes(gpu, 'fb_memory_usage', 'total'),
    memoryUsedBytes: bytes(gpu, 'fb_memory_usage', 'used'),
    temperatureC: num(gpu, 'temperature', 'gpu_temp'),
    powerDrawW: num(power, 'power_draw') ?? num(power, 'instant_power_draw') ?? num(power, 'average_power_draw'),
    powerLimitW: num(power, 'current_power_limit') ?? num(power, 'enforced_power_limit') ?? num(power, 'power_limit'),
    fanPercent: num(gpu, 'fan_speed'),
    utilization: {
      gpu: num(gpu, 'utilization', 'gpu_util'),
      memory: num(gpu, 'utilization', 'memory_util'),
      encoder: num(gpu, 'utilization', 'encoder_util'),
      decoder: num(gpu, 'utilization', 'decoder_util'),
    },
    clocksMHz: {
      graphics: num(gpu, 'clocks', 'graphics_clock'),
      sm: num(gpu, 'clocks', 'sm_clock'),
      memory: num(gpu, 'clocks', 'mem_clock'),
      video: num(gpu, 'clocks', 'video_clock'),
    },
    encoderSessions: int(gpu, 'encoder_stats', 'session_count'),
    pcie: {
      currentGen: num(gpu, 'pci', 'pci_gpu_link_info', 'pcie_gen', 'current_link_gen'),
      maxGen: num(gpu, 'pci', 'pci_gpu_link_info', 'pcie_gen', 'max_link_gen'),
      currentWidth: num(gpu, 'pci', 'pci_gpu_link_info', 'link_widths', 'current_link_width'),
      maxWidth: num(gpu, 'pci', 'pci_gpu_link_info', 'link_widths', 'max_link_width'),
    },
  };
}

/** Parses `nvidia-smi -q -x` output (dtd v10–v13). Throws NvidiaSmiXmlError on malformed or truncated XML. */
export function parseNvidiaSmiXml(xml: string): NvidiaSmiLog {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new NvidiaSmiXmlError(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  }
  const doc: unknown = parser.parse(xml);
  const root = child(doc, 'nvidia_smi_log');
  if (root === undefined || root === null || typeof root !== 'object') {
    throw new NvidiaSmiXmlError('no <nvidia_smi_log> element: not the output of nvidia-smi -q -x');
  }
  const dtd = /nvsmi_device_v(\d+)\.dtd/.exec(xml);
  const gpus = child(root, 'gpu');
  return {
    dtdVersion: dtd?.[1] ? Number(dtd[1]) : null,
    driverVersion: text(root, 'driver_version'),
    cudaVersion: text(root, 'cuda_version'),
    gpus: Array.isArray(gpus) ? gpus.map((g: unknown, i) => parseGpu(g, i)) : [],
  };
}
