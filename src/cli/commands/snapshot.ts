import { writeSnapshot } from '../../core/inventory/snapshot';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';

export const snapshotCommand: CliCommand = {
  name: 'snapshot',
  summary: 'write a host snapshot (sysfs, proc, nvidia-smi and ffmpeg outputs) for bug reports and tests',
  usage: 'gpu-bridge snapshot [--out FILE.tar.gz|DIR] [--root DIR]',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { out: { type: 'string' }, root: { type: 'string' } }, this.usage);
    const out = values.out ?? `gpu-bridge-snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`;
    try {
      const r = await writeSnapshot(out, { root: values.root ?? '/', runCommands: values.root === undefined });
      process.stdout.write(`wrote ${r.path} (${r.files} files)\n`);
      return 0;
    } catch (error) {
      throw new CliError(`cannot write snapshot ${out}: ${(error as Error).message}`);
    }
  },
};
