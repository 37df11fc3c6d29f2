import { probeCapabilities } from '../../core/app/capabilities';
import { CaptureSettingsStore } from '../../core/capture/capture-settings';
import { detectCaptureSources } from '../../core/capture/detect';
import { defaultPaths } from '../../core/paths';
import { VERSION } from '../../core/version';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../command';

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'what this host can do (nvidia-smi, NVML, ffmpeg encoders, capture sources, pkexec, QEMU, libvirt)',
  usage: 'gpu-bridge info [--json]',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, this.usage);
    const capabilities = await probeCapabilities();
    const capture = await detectCaptureSources(process.env, await new CaptureSettingsStore(defaultPaths().configDir).read());
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ version: VERSION, capabilities, capture })}\n`);
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
      `session      ${capture.sessionType}${capture.desktop ? ` (${capture.desktop})` : ''}; sessions capture ${capture.defaultSource ?? 'nothing (see below)'} by default`,
      'capture sources:',
      ...capture.sources.map((source) => `  ${source.kind.padEnd(8)} ${source.available ? 'works ' : 'no    '} ${source.detail}${source.action ? `\n                  → ${source.action}` : ''}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
