import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { linkNameOrNull } from '../util/fs-read';
import { isValidBdf, pciDevicesDir } from './pci';

/** A function's SR-IOV links: `physfn` on a virtual function, `virtfnN` on its physical function. */
export interface SriovLinks {
  /** The physical function's address when this function is a VF, else null. */
  physfn: string | null;
  /** The VFs of a PF, in virtfn order (virtfn0, virtfn1, …); empty for a VF or a function without VFs. */
  virtfns: string[];
}

/** Reads `physfn` and `virtfn*` under one function's directory (a live tree or a snapshot). */
export async function readSriovLinks(root: string, address: string): Promise<SriovLinks> {
  const dir = join(pciDevicesDir(root), address);
  const physfn = await linkNameOrNull(join(dir, 'physfn'));
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  const numbered = names
    .map((n) => /^virtfn(\d{1,4})$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ n: Number(m[1]), name: m[0] }))
    .sort((a, b) => a.n - b.n);
  const virtfns: string[] = [];
  for (const { name } of numbered) {
    const vf = await linkNameOrNull(join(dir, name));
    if (vf !== null && isValidBdf(vf)) virtfns.push(vf);
  }
  return { physfn: physfn !== null && isValidBdf(physfn) ? physfn : null, virtfns };
}
