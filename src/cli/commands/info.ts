import { probeCapabilities } from '../../core/app/capabilities';
import { VERSION } from '../../core/version';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../command';

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'what this host can do (nvidia-smi, NVML, ffmpeg encoders, X, pkexec, QEMU, libvirt)',
  usage: 'gpu-bridge info [--json]',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, this.usage);
    const capabilities = await probeCapabilities();
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ version: VERSION, capabilities })}\n`);
      return 0;
    }
    const yes = (value: boolean) => (value ? 'yes' : 'no');
    const lines = [
      `gpu-bridge ${VERSION}`,
      `nvidia-smi   ${yes(capabilities.nvidiaSmi)}`,
      `NVML         ${yes(capabilities.nvml)}`,
      `ffmpeg       ${capabilities.ffmpeg ? (capabilities.ffmpegVersion ?? 'yes') : 'no'}`,
      `encoders     ${capabilities.ffmpegEncoders.join(', ') || '(none)'}`,
      `X display    ${capabilities.xDisplay ?? '(none)'}`,
      `pkexec       ${yes(capabilities.pkexec)}`,
      `QEMU         ${yes(capabilities.qemu)}`,
      `libvirt      ${yes(capabilities.libvirt)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
