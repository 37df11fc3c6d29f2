import type { FrameReader } from './frame-feed';
import { processReader } from './process-reader';

/**
 * GStreamer's pipewiresrc (ffmpeg 5.1 has no PipeWire input): a PipeWire node's frames, converted and
 * scaled (borders kept, never stretched) to the session's size as I420 on fd 3. A leaky one-frame queue
 * keeps an encoder that falls behind from building a backlog. An unsandboxed process opens the node by
 * its id; the portal's OpenPipeWireRemote fd is what a sandboxed app would need instead.
 */
export function pipewireFrameArgs(nodeId: number, width: number, height: number): string[] {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 0xffffffff) throw new Error(`bad PipeWire node id ${nodeId}`);
  return [
    '-q',
    'pipewiresrc', `path=${nodeId}`, 'always-copy=true',
    '!', 'queue', 'max-size-buffers=1', 'leaky=downstream',
    '!', 'videoconvert', '!', 'videoscale',
    '!', `video/x-raw,format=I420,width=${width},height=${height},pixel-aspect-ratio=1/1`,
    '!', 'fdsink', 'fd=3', 'sync=false',
  ];
}

export function pipewireFrameReader(nodeId: number, width: number, height: number, env?: NodeJS.ProcessEnv): FrameReader {
  return processReader('gst-launch-1.0', pipewireFrameArgs(nodeId, width, height), env);
}
