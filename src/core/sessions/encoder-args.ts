import { ENCODER_CODEC as SHARED_ENCODER_CODEC } from '../../shared/contract/sessions';

/** Video encoders a session can use; the NVENC ones need an NVIDIA GPU with NVENC and an ffmpeg built with it. */
export const ENCODERS = ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc', 'libx264', 'libx265'] as const;
export type EncoderName = (typeof ENCODERS)[number];
export type Codec = 'h264' | 'hevc' | 'av1';

export const ENCODER_CODEC: Record<EncoderName, Codec> = SHARED_ENCODER_CODEC;

export function isHardware(encoder: EncoderName): boolean {
  return encoder.endsWith('_nvenc');
}

export interface EncoderSettings {
  encoder: EncoderName;
  fps: number;
  bitrateKbps: number;
  /** NVENC: which GPU (CUDA order index). */
  gpuIndex?: number;
  /** Software encoders: threads (sliced, so they add no frame of delay). */
  threads?: number;
}

/**
 * Low-latency encoder argv. Common to all: constant bitrate with a VBV of about one frame
 * (bitrate / fps), no B-frames, no lookahead. Software encoders refresh intra columns instead of
 * sending big keyframes; NVENC keeps an endless GOP and its ultra-low-latency tuning.
 */
export function encoderArgs(settings: EncoderSettings): string[] {
  const { encoder, fps, bitrateKbps } = settings;
  const rate = `${bitrateKbps}k`;
  const vbv = `${Math.max(1, Math.round(bitrateKbps / fps))}k`;
  const threads = Math.max(1, Math.min(8, settings.threads ?? 2));
  switch (encoder) {
    case 'libx264':
      return [
        // constrained baseline (ultrafast uses nothing more): what a browser decodes over WebRTC
        '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', rate, '-maxrate', rate, '-bufsize', vbv,
        '-g', String(fps), '-bf', '0',
        // repeat-headers: a receiver that missed the first frame still gets SPS/PPS at the next refresh
        '-x264-params', `sliced-threads=1:threads=${threads}:intra-refresh=1:nal-hrd=cbr:repeat-headers=1:rc-lookahead=0`,
      ];
    case 'libx265':
      return [
        '-c:v', 'libx265', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', rate, '-g', String(fps), '-bf', '0',
        '-x265-params', `vbv-maxrate=${bitrateKbps}:vbv-bufsize=${Math.max(1, Math.round(bitrateKbps / fps))}:bframes=0:rc-lookahead=0:repeat-headers=1:frame-threads=1:pools=${threads}:intra-refresh=1:log-level=error`,
      ];
    case 'h264_nvenc':
    case 'hevc_nvenc':
    case 'av1_nvenc':
      return [
        '-c:v', encoder, ...(encoder === 'h264_nvenc' ? ['-profile', 'main'] : []), '-gpu', String(settings.gpuIndex ?? 0), '-preset', 'p1', '-tune', 'ull', '-rc', 'cbr', '-b:v', rate, '-maxrate', rate, '-bufsize', vbv,
        '-bf', '0', '-g', '2147483647', '-forced-idr', '1', '-zerolatency', '1', '-delay', '0', '-rc-lookahead', '0', '-no-scenecut', '1',
      ];
  }
}
