import { isValidBdf } from '../../core/inventory/pci';
import { CliError } from '../command';

/** `--with ADDR[,ADDR]` (repeatable) as given: the optional functions of the GPU's slot to take along, at most 8. */
export function parseExtras(given: string[] | undefined, usage: string): string[] {
  const extras = (given ?? []).flatMap((w) => w.split(',')).filter((w) => w !== '');
  const bad = extras.find((w) => !isValidBdf(w));
  if (bad !== undefined) throw new CliError(`--with "${bad.slice(0, 40)}" is not a PCI address like 0000:01:00.1\nusage: ${usage}`, 2);
  if (extras.length > 8) throw new CliError('--with takes at most 8 addresses', 2);
  return extras;
}
