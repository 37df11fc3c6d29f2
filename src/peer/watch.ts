import type { StreamRequest } from '../shared/contract/peers';

/** `--watch 1280x720@60[:8000k][:h264]`: what the peer asks each connected host to stream. */
export function parseWatch(text: string): StreamRequest {
  const match = /^(\d{3,4})x(\d{3,4})@(\d{1,3})(?::(\d{3,6})k)?(?::(h264|hevc|av1))?$/.exec(text);
  if (!match) throw new Error(`--watch takes WIDTHxHEIGHT@FPS[:KBPSk][:CODEC], e.g. 1280x720@60:6000k:h264; got "${text.slice(0, 40)}"`);
  const request: StreamRequest = { type: 'stream.request', width: Number(match[1]), height: Number(match[2]), fps: Number(match[3]) };
  if (match[4]) request.bitrateKbps = Number(match[4]);
  if (match[5]) request.codec = match[5] as StreamRequest['codec'];
  return request;
}
