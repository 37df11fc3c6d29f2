import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Capabilities } from '../../shared/contract';
import { runCommand } from '../exec/run-command';
import { ffmpegEncodersOutput } from '../exec/ffmpeg-encoders-cache';
import { which } from '../exec/which';

const STREAMING_ENCODERS = [
  'h264_nvenc',
  'hevc_nvenc',
  'av1_nvenc',
  'libx264',
  'libx265',
  'libsvtav1',
  'h264_vaapi',
  'hevc_vaapi',
  'av1_vaapi',
  'h264_qsv',
  'hevc_qsv',
];

/** Names of streaming encoders in `ffmpeg -hide_banner -encoders` output. */
export function parseFfmpegEncoders(text: string): string[] {
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*V[A-Z.]{5}\s+(\S+)/.exec(line);
    if (match && STREAMING_ENCODERS.includes(match[1]!)) found.add(match[1]!);
  }
  return STREAMING_ENCODERS.filter((name) => found.has(name));
}

export function parseFfmpegVersion(text: string): string | null {
  return /^ffmpeg version (\S+)/m.exec(text)?.[1] ?? null;
}

const NVML_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1',
  '/usr/lib64/libnvidia-ml.so.1',
  '/usr/lib/libnvidia-ml.so.1',
  '/usr/lib/wsl/lib/libnvidia-ml.so.1',
];

export interface CapabilityProbeOptions {
  env?: NodeJS.ProcessEnv;
  /** Override NVML presence (the inventory's loader knows better once it has run). */
  nvml?: boolean;
}

/** What this host can do. Spawns ffmpeg twice at most; everything else is a PATH or file lookup. */
export async function probeCapabilities(options: CapabilityProbeOptions = {}): Promise<Capabilities> {
  const env = options.env ?? process.env;
  const ffmpegPath = which('ffmpeg', env.PATH);
  let ffmpegVersion: string | null = null;
  let ffmpegEncoders: string[] = [];
  if (ffmpegPath) {
    const [version, encoders] = await Promise.all([
      runCommand(ffmpegPath, ['-hide_banner', '-version'], { timeoutMs: 10_000 }),
      ffmpegEncodersOutput(ffmpegPath, env),
    ]);
    ffmpegVersion = parseFfmpegVersion(`ffmpeg ${version.stdout.replace(/^ffmpeg /, '')}`) ?? parseFfmpegVersion(version.stdout);
    ffmpegEncoders = parseFfmpegEncoders(encoders ?? '');
  }
  const display = env.DISPLAY && env.DISPLAY.trim() !== '' ? env.DISPLAY : null;
  return {
    nvidiaSmi: which('nvidia-smi', env.PATH) !== null,
    nvml: options.nvml ?? NVML_PATHS.some((path) => existsSync(path)),
    ffmpeg: ffmpegPath !== null,
    ffmpegVersion,
    ffmpegEncoders,
    xDisplay: display,
    pkexec: which('pkexec', env.PATH) !== null,
    qemu: which('qemu-system-x86_64', env.PATH) !== null,
    libvirt: which('virsh', env.PATH) !== null || existsSync('/run/libvirt/libvirt-sock'),
    notRecorded: [],
  };
}

/**
 * What a recorded host could do, as far as its snapshot says: its captured nvidia-smi and ffmpeg outputs.
 * Nothing of the machine showing it (`serve --from`) is taken for the recorded host's. `gpu-bridge
 * snapshot` writes `cmd/` whenever it runs the tools, so a snapshot with `cmd/` and no output of one had
 * no such tool (or it failed); one without `cmd/` (made from a sys tree, the examples) recorded neither.
 */
export async function snapshotCapabilities(root: string): Promise<Capabilities> {
  const encoders = await readFile(join(root, 'cmd', 'ffmpeg-encoders.txt'), 'utf8').catch(() => null);
  const ranTools = existsSync(join(root, 'cmd'));
  return {
    notRecorded: ranTools ? [] : ['nvidia', 'ffmpeg'],
    nvidiaSmi: existsSync(join(root, 'cmd', 'nvidia-smi.xml')),
    nvml: false,
    ffmpeg: encoders !== null,
    ffmpegVersion: null,
    ffmpegEncoders: encoders === null ? [] : parseFfmpegEncoders(encoders),
    xDisplay: null,
    pkexec: false,
    qemu: false,
    libvirt: false,
  };
}
