import { writeSnapshot } from '../../core/inventory/snapshot';
import { detectMetricsSource } from '../../core/metrics/handlers';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';
import { parseIntOption } from './session-args';

export const snapshotCommand: CliCommand = {
  name: 'snapshot',
  summary: 'write a host snapshot (sysfs, proc, nvidia-smi and ffmpeg outputs) for bug reports and tests',
  usage: 'gpu-bridge snapshot [--out FILE.tar.gz|DIR] [--root DIR] [--samples SECONDS]  (GPU samples for the dashboard of `serve --from`: 10 s by default where there is a GPU to sample, 0 for none)',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { out: { type: 'string' }, root: { type: 'string' }, samples: { type: 'string' } }, this.usage);
    const out = values.out ?? `gpu-bridge-snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`;
    const seconds = parseIntOption('samples', values.samples, values.root === undefined ? 10 : 0, 0, 600)!;
    const source = seconds > 0 ? detectMetricsSource(process.env.PATH, values.root ?? '/') : null;
    if (seconds > 0 && !source) process.stderr.write('no GPU metrics source here (NVML, nvidia-smi or amdgpu sysfs): the snapshot has no samples\n');
    if (source) process.stderr.write(`recording ${seconds} s of GPU samples (--samples 0 skips this)…\n`);
    try {
      const r = await writeSnapshot(out, {
        root: values.root ?? '/',
        runCommands: values.root === undefined,
        samples: source ? { source, seconds, onTick: (second) => process.stderr.write(`  ${second}/${seconds} s\r`) } : undefined,
      });
      process.stdout.write(`wrote ${r.path} (${r.files} files)\n`);
      return 0;
    } catch (error) {
      throw new CliError(`cannot write snapshot ${out}: ${(error as Error).message}`);
    }
  },
};
