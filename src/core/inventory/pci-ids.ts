import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const CANDIDATES = ['usr/share/misc/pci.ids', 'usr/share/hwdata/pci.ids', 'usr/share/pci.ids'];

/** Looks up names in the pci.ids database under `root`, where present. Loaded once per lookup set. */
export class PciIds {
  private constructor(private readonly text: string | null) {}

  static async load(root: string): Promise<PciIds> {
    for (const rel of CANDIDATES) {
      try {
        return new PciIds(await readFile(join(root, rel), 'utf8'));
      } catch {
        // try the next location
      }
    }
    return new PciIds(null);
  }

  static fromText(text: string): PciIds {
    return new PciIds(text);
  }

  get available(): boolean {
    return this.text !== null;
  }

  /** 'NVIDIA Corporation GA102 [GeForce RTX 3080 Lite Hash Rate]', or null. */
  deviceName(vendorId: string, deviceId: string): string | null {
    if (this.text === null || !/^[0-9a-f]{4}$/.test(vendorId) || !/^[0-9a-f]{4}$/.test(deviceId)) return null;
    const vendorAt = this.text.search(new RegExp(`^${vendorId}  `, 'm'));
    if (vendorAt < 0) return null;
    const vendorLineEnd = this.text.indexOf('\n', vendorAt);
    const vendorName = this.text.slice(vendorAt + 6, vendorLineEnd).trim();
    // The vendor's block ends at the next line that starts with a non-tab, non-comment character.
    const rest = this.text.slice(vendorLineEnd + 1);
    const end = rest.search(/^[0-9a-fA-FC]/m);
    const block = end < 0 ? rest : rest.slice(0, end);
    const m = new RegExp(`^\\t${deviceId}  (.+)$`, 'm').exec(block);
    return m?.[1] ? `${vendorName} ${m[1].trim()}` : null;
  }
}
