// Functions the host's platform itself needs, which a passthrough never offers as an extra (`optional`)
// even when they share the GPU's slot: an APU's slot also holds the platform security processor.
import type { PciFunction } from '../inventory/pci';

const CRITICAL: ReadonlyArray<readonly [RegExp, string]> = [
  [/^0600/, 'a host bridge'],
  [/^0601/, 'the ISA/LPC bridge (firmware, TPM, embedded controller, fans)'],
  [/^05/, 'a memory controller'],
  [/^080[0-4]/, 'a platform interrupt, DMA, timer or hot-plug controller'],
  [/^080[67]/, 'an IOMMU or root-complex event collector'],
  [/^0880/, 'a platform system peripheral'],
  [/^0c05/, 'the SMBus controller (memory SPD, sensors)'],
  [/^0c07/, "the IPMI interface to the board's management controller"],
  [/^1080/, 'the platform security processor (AMD PSP/CCP: firmware TPM, memory encryption)'],
];

/** Why a function is host-critical (never offered as an extra), or null when it is not. */
export function hostCriticalReason(fn: Pick<PciFunction, 'classCode'>): string | null {
  for (const [re, what] of CRITICAL) if (re.test(fn.classCode)) return what;
  return null;
}
