import type { Encoders } from '../../shared/contract/inventory';

/**
 * NVIDIA hardware-encode capability by chip, after NVIDIA's "Video Encode and Decode GPU Support Matrix":
 * Kepler encodes H.264 only; Maxwell GM20x adds HEVC (GM107/GM108 do not); Pascal, Volta, Turing and
 * Ampere GA10x encode H.264 and HEVC; the compute chips GA100 (A100, A30) and GH100 (H100, H200) have no
 * NVENC at all; Ada Lovelace and Blackwell add AV1.
 */
export type NvidiaArch =
  | 'Kepler'
  | 'Maxwell'
  | 'Maxwell-GM107'
  | 'Pascal'
  | 'Volta'
  | 'Turing'
  | 'Ampere'
  | 'Ampere-GA100'
  | 'Hopper'
  | 'Ada Lovelace'
  | 'Blackwell';

/** PCI device id ranges (inclusive, lowercase hex) → chip family. Ordered: the first match wins. */
const DEVICE_RANGES: Array<[number, number, NvidiaArch]> = [
  [0x0fc0, 0x103f, 'Kepler'], // GK107/GK104/GK110
  [0x1180, 0x12ff, 'Kepler'], // GK104/GK106/GK208
  [0x1340, 0x13bf, 'Maxwell-GM107'], // GM107/GM108
  [0x13c0, 0x17ff, 'Maxwell'], // GM204/GM206/GM200 (0x15xx GP100 below overrides)
  [0x15f0, 0x15ff, 'Pascal'], // GP100
  [0x1b00, 0x1d7f, 'Pascal'], // GP102/GP104/GP106/GP107/GP108
  [0x1d80, 0x1dff, 'Volta'], // GV100
  [0x1e00, 0x1fff, 'Turing'], // TU102/TU104/TU106/TU116/TU117
  [0x2080, 0x20ff, 'Ampere-GA100'], // A100, A30, A800
  [0x2180, 0x21ff, 'Turing'], // TU116/TU117
  [0x2200, 0x22ff, 'Ampere'], // GA102
  [0x2300, 0x23ff, 'Hopper'], // GH100: H100 (2330, 2331, 2339), H200 (2335), H800
  [0x2400, 0x25ff, 'Ampere'], // GA103/GA104/GA106/GA107
  [0x2680, 0x28ff, 'Ada Lovelace'], // AD102/AD103/AD104/AD106/AD107 (L40S 26b9, L4 27b8)
  [0x2900, 0x2fff, 'Blackwell'], // GB100/GB102/GB20x
];

export function nvidiaArchFromDeviceId(deviceId: string | null): NvidiaArch | null {
  if (!deviceId || !/^[0-9a-f]{4}$/i.test(deviceId)) return null;
  const id = Number.parseInt(deviceId, 16);
  // GP100 sits inside the Maxwell block; check the narrower ranges first.
  const narrow = DEVICE_RANGES.filter(([lo, hi]) => hi - lo < 0x20).find(([lo, hi]) => id >= lo && id <= hi);
  if (narrow) return narrow[2];
  return DEVICE_RANGES.find(([lo, hi]) => id >= lo && id <= hi)?.[2] ?? null;
}

/** From nvidia-smi's product_architecture plus the product name (to tell GA100/GH100 from GA10x). */
export function nvidiaArchFromName(architecture: string | null, name: string | null): NvidiaArch | null {
  const n = (name ?? '').toUpperCase();
  if (/\bA100\b|\bA30\b|\bA800\b/.test(n)) return 'Ampere-GA100';
  if (/\bH100\b|\bH200\b|\bH800\b|\bH20\b|GH200/.test(n)) return 'Hopper';
  const a = (architecture ?? '').toLowerCase();
  if (a.startsWith('kepler')) return 'Kepler';
  if (a.startsWith('maxwell')) return 'Maxwell';
  if (a.startsWith('pascal')) return 'Pascal';
  if (a.startsWith('volta')) return 'Volta';
  if (a.startsWith('turing')) return 'Turing';
  if (a.startsWith('ampere')) return 'Ampere';
  if (a.startsWith('hopper')) return 'Hopper';
  if (a.startsWith('ada')) return 'Ada Lovelace';
  if (a.startsWith('blackwell')) return 'Blackwell';
  // dtd v10 has no architecture: the consumer naming tells the generation.
  if (/GTX\s*10\d0|TITAN X[P ]|TITAN XP|P\d{1,3}\b|QUADRO P/.test(n)) return 'Pascal';
  if (/GTX\s*16\d0|RTX\s*20\d0|TITAN RTX|\bT4\b|QUADRO RTX/.test(n)) return 'Turing';
  if (/RTX\s*30\d0|RTX A\d{4}|\bA10G?\b|\bA40\b|\bA16\b|\bA2\b/.test(n)) return 'Ampere';
  if (/RTX\s*40\d0|\bL40S?\b|\bL4\b|RTX \d{4} ADA/.test(n)) return 'Ada Lovelace';
  if (/RTX\s*50\d0|\bB200\b|\bB100\b|RTX PRO/.test(n)) return 'Blackwell';
  if (/GTX\s*9\d0|GTX\s*TITAN X\b/.test(n)) return 'Maxwell';
  return null;
}

export function encodersForArch(arch: NvidiaArch | null): Encoders {
  switch (arch) {
    case null:
      return { h264: null, hevc: null, av1: null };
    case 'Kepler':
    case 'Maxwell-GM107':
      return { h264: true, hevc: false, av1: false };
    case 'Ampere-GA100':
    case 'Hopper':
      return { h264: false, hevc: false, av1: false };
    case 'Ada Lovelace':
    case 'Blackwell':
      return { h264: true, hevc: true, av1: true };
    default:
      return { h264: true, hevc: true, av1: false };
  }
}

/** True for consumer cards, whose driver caps concurrent NVENC sessions. */
export function isGeForce(brand: string | null, name: string | null): boolean {
  const b = (brand ?? '').toLowerCase();
  if (b === 'geforce' || b === 'titan') return true;
  if (b !== '') return false;
  return /geforce|titan/i.test(name ?? '');
}

/**
 * Concurrent NVENC sessions the driver allows: GeForce 3 before driver 530, 5 from 530, 8 from 551.23 (null
 * when the driver version is unknown);
 * professional and data-centre cards are not capped. Null where the card has no encoder or is unknown.
 */
export function encoderSessionLimit(
  encoders: Encoders,
  brand: string | null,
  name: string | null,
  driverVersion: string | null,
): number | 'unlimited' | null {
  if (encoders.h264 !== true) return null;
  if (!brand && !name) return null;
  if (!isGeForce(brand, name)) return 'unlimited';
  const m = /^(\d+)\.(\d+)/.exec(driverVersion ?? '');
  if (!m?.[1] || !m[2]) return null; // GeForce with an unknown driver: the cap depends on it
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major < 530) return 3;
  if (major < 551 || (major === 551 && minor < 23)) return 5;
  return 8;
}

/** Cross-check against `ffmpeg -hide_banner -encoders`: which NVENC encoders this ffmpeg build has. */
export function parseFfmpegNvencEncoders(text: string): Encoders {
  const has = (name: string) => new RegExp(`^\\s*V\\S*\\s+${name}\\b`, 'm').test(text);
  return { h264: has('h264_nvenc'), hevc: has('hevc_nvenc'), av1: has('av1_nvenc') };
}
