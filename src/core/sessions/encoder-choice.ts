import { runCommand } from '../exec/run-command';
import { ENCODERS, type Codec, type EncoderName } from './encoder-args';

/** Encoders this ffmpeg build has (from `ffmpeg -encoders`), among the ones sessions use. */
export async function ffmpegEncoders(ffmpeg = 'ffmpeg'): Promise<Set<EncoderName>> {
  const result = await runCommand(ffmpeg, ['-hide_banner', '-encoders'], { timeoutMs: 10_000 });
  const found = new Set<EncoderName>();
  for (const line of result.stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[1];
    if (name && (ENCODERS as readonly string[]).includes(name)) found.add(name as EncoderName);
  }
  return found;
}

export interface GpuEncodeCaps {
  /** Inventory: hardware encode per codec (null: unknown chip). */
  encoders: { h264: boolean | null; hevc: boolean | null; av1: boolean | null } | null;
  vendor: string;
  /** NVENC sessions open now (all programs) and the chip's limit (null: no limit). */
  nvencSessions?: number | null;
  nvencLimit?: number | null;
}

export interface EncoderChoice {
  encoder: EncoderName;
  /** Software encoder to fall back to if the hardware one fails to open. */
  fallback: EncoderName | undefined;
  /** Why this encoder (shown to the user). */
  reason: string;
}

const SOFTWARE: Record<Codec, EncoderName | null> = { h264: 'libx264', hevc: 'libx265', av1: null };
const NVENC: Record<Codec, EncoderName> = { h264: 'h264_nvenc', hevc: 'hevc_nvenc', av1: 'av1_nvenc' };

/** NVENC when the GPU has it for this codec, ffmpeg has it and a session is free; else software, saying why. */
export function chooseEncoder(codec: Codec, gpu: GpuEncodeCaps | null, available: Set<EncoderName>): EncoderChoice {
  const software = SOFTWARE[codec];
  const fallbackTo = (why: string): EncoderChoice => {
    if (!software || !available.has(software)) throw new Error(`no encoder for ${codec}: ${why}, and ffmpeg has no software ${codec} encoder`);
    return { encoder: software, fallback: undefined, reason: `${software} (software): ${why}` };
  };
  const nvenc = NVENC[codec];
  if (!gpu || gpu.vendor !== 'nvidia') return fallbackTo('no NVIDIA GPU');
  if (gpu.encoders?.[codec] === false) return fallbackTo(`this GPU has no NVENC for ${codec}`);
  if (!available.has(nvenc)) return fallbackTo(`this ffmpeg has no ${nvenc}`);
  if (gpu.nvencLimit != null && gpu.nvencSessions != null && gpu.nvencSessions >= gpu.nvencLimit) {
    return fallbackTo(`all ${gpu.nvencLimit} NVENC sessions of this GPU are in use (${gpu.nvencSessions} open, counting other programs)`);
  }
  return { encoder: nvenc, fallback: software && available.has(software) ? software : undefined, reason: `${nvenc} (NVENC)` };
}
