// A server board's management controller (BMC) draws its remote console through a small VGA of its
// own: ASPEED's AST graphics, or Matrox's G200e family on HP iLO, Dell iDRAC and Supermicro/Intel
// boards. Passing that VGA through takes the host's remote console away.
import type { PciFunction } from '../inventory/pci';
import type { Evidence } from './host-loss';

const BMC_VGA: ReadonlyMap<string, string> = new Map([
  ['1a03:2000', 'ASPEED AST graphics'],
  ['102b:0522', 'Matrox G200e (ServerEngines Pilot)'],
  ['102b:0530', 'Matrox G200eV'],
  ['102b:0532', 'Matrox G200eW (WPCM450)'],
  ['102b:0533', 'Matrox G200eH'],
  ['102b:0534', 'Matrox G200eR2'],
  ['102b:0536', 'Matrox G200eW3'],
  ['102b:0538', 'Matrox G200eH3'],
]);

/** The BMC's VGA by its ids, or null. */
export function bmcConsoleName(fn: Pick<PciFunction, 'vendorId' | 'deviceId' | 'classCode'>): string | null {
  if (!fn.classCode.startsWith('03')) return null;
  return BMC_VGA.get(`${fn.vendorId}:${fn.deviceId}`) ?? null;
}

/** The finding for a moving BMC VGA: the host loses its remote console, with the ids that say so. */
export function bmcConsoleFinding(fn: PciFunction): { code: string; message: string; devices: string[]; evidence: Evidence[] } | null {
  const name = bmcConsoleName(fn);
  if (name === null) return null;
  const file = (n: string) => `/sys/bus/pci/devices/${fn.address}/${n}`;
  return {
    code: 'BMC_CONSOLE',
    message: `${fn.address} is ${name}, the server board's management controller (BMC) display: while it is passed through, the host's remote console (IPMI/iLO/iDRAC KVM) shows nothing`,
    devices: [fn.address],
    evidence: [
      { file: file('vendor'), value: `0x${fn.vendorId}` },
      { file: file('device'), value: `0x${fn.deviceId}` },
    ],
  };
}
