import type { FrameReader } from './frame-feed';
import { processReader } from './process-reader';

const OUTPUT_PATTERN = /^[\w.-]{1,64}$/;

/**
 * wlroots compositors (sway, Hyprland, river) through wlr-screencopy, by Debian's wf-recorder: one
 * output's frames, scaled with borders kept to the session's size, as I420 on fd 3. Debian 12's
 * xdg-desktop-portal-wlr cannot stream without DMA-BUF, so this does not go through the portal.
 * Frames come on damage only (the feed repeats the last one). With several outputs, name one.
 */
export function wlrootsFrameArgs(width: number, height: number, output?: string): string[] {
  if (output !== undefined && !OUTPUT_PATTERN.test(output)) throw new Error(`bad output name "${output.slice(0, 40)}": letters, digits, '.', '_' and '-'`);
  // wf-recorder tags its YUV full range; the encoder reads TV range, as from every other source
  const filter = `scale=${width}:${height}:force_original_aspect_ratio=decrease:out_range=tv,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`;
  return [...(output ? ['-o', output] : []), '-c', 'rawvideo', '-m', 'rawvideo', '-F', filter, '-f', 'pipe:3'];
}

export function wlrootsFrameReader(options: { width: number; height: number; output?: string; env?: NodeJS.ProcessEnv }): FrameReader {
  return processReader('wf-recorder', wlrootsFrameArgs(options.width, options.height, options.output), options.env);
}
