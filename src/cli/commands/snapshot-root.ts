import { openSnapshot } from '../../core/inventory/snapshot';
import { CliError } from '../command';

/** The tree a read-only command reads: `--from` (a folder or .tar.gz, unpacked until `close`), else `fallback`. */
export async function openRoot(from: string | undefined, fallback = '/'): Promise<{ root: string; close(): Promise<void> }> {
  if (from === undefined) return { root: fallback, close: async () => undefined };
  return openSnapshot(from).catch((e: Error) => Promise.reject(new CliError(`cannot open snapshot ${from}: ${e.message}`, 2)));
}
