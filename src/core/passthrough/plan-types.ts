// The passthrough plan's shape and the words for the roles of its devices.
import type { PciFunction } from '../inventory/pci';
import type { Evidence } from './host-loss';

export type DeviceRole = 'gpu' | 'audio' | 'usb' | 'serial' | 'storage' | 'network' | 'crypto' | 'other';

export interface PlanDevice {
  address: string;
  driver: string | null;
  role: DeviceRole;
  /** Why it moves: the target, a member of a group that moves, the card's own audio (and how it is the card's), or asked for. */
  why?: string;
}

/** A function of the GPU's card in another IOMMU group: it stays on the host unless asked for (`with`). */
export interface PlanOptional {
  address: string;
  role: DeviceRole;
  group: number | null;
  driver: string | null;
  reason: string;
  /** What the host would lose with it (input devices, mounted filesystems, the default route). */
  hostLoss: string[];
}

/** A function of the card's slot the host's platform needs: never offered, never moved unless its group must. */
export interface PlanHostOnly {
  address: string;
  role: DeviceRole;
  reason: string;
}

export interface PlanFinding {
  code: string;
  message: string;
  devices: string[];
  /** The files (and their values) the finding was read from, where there are any. */
  evidence?: Evidence[];
}

export interface PassthroughPlan {
  target: string;
  viable: boolean;
  /** Every function that must move to vfio-pci: the target's group(s), its audio, and what was asked for. */
  devices: PlanDevice[];
  /** The card's other functions in other groups, which stay on the host unless asked for. */
  optional: PlanOptional[];
  /** The card's slot's host-critical functions (the platform security processor, ...): never offered. */
  hostOnly: PlanHostOnly[];
  /** The upstream port of the card's own PCIe switch, when the GPU sits behind one (Intel Arc, AMD Navi). */
  cardSwitch: string | null;
  /** The extra functions asked for (`with`), as given. */
  with: string[];
  /** The physical function when the target is an SR-IOV virtual function (it keeps its driver). */
  physfn: string | null;
  blockers: PlanFinding[];
  warnings: PlanFinding[];
}

export interface PlanOptions {
  /** Optional functions of the card to move as well (each must be one of the plan's `optional`). */
  with?: readonly string[];
}

export function roleOf(fn: Pick<PciFunction, 'classCode'>): DeviceRole {
  const c = fn.classCode;
  if (c.startsWith('03')) return 'gpu';
  if (c.startsWith('0403') || c.startsWith('0401')) return 'audio';
  if (c.startsWith('0c03')) return 'usb';
  if (c.startsWith('0c80') || c.startsWith('0c05') || c.startsWith('07')) return 'serial';
  if (c.startsWith('01')) return 'storage';
  if (c.startsWith('02')) return 'network';
  if (c.startsWith('10')) return 'crypto';
  return 'other';
}

export const ROLE_WORDS: Record<DeviceRole, string> = {
  gpu: 'a display controller',
  audio: 'an audio device',
  usb: 'a USB controller',
  serial: 'a serial bus controller',
  storage: 'a storage controller',
  network: 'a network controller',
  crypto: 'an encryption controller',
  other: 'a device',
};
