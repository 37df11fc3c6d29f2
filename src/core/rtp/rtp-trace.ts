import { closeSync, openSync, writeSync } from 'node:fs';

export type TraceWriter = ((line: object) => void) & { close(): void };

/**
 * GPU_BRIDGE_RTP_TRACE=PATH: one JSON line per decision of the rtp transport (the receiver's frames, the
 * sender's resends), appended to PATH. For finding out why a frame was lost; off (null) when unset.
 * Writes are synchronous appends, so lines of several processes (the self-test's host and peer) do not
 * interleave and nothing is lost when a process is killed.
 */
export function openRtpTrace(side: 'receiver' | 'sender', env: NodeJS.ProcessEnv = process.env): TraceWriter | null {
  const path = env.GPU_BRIDGE_RTP_TRACE;
  if (!path) return null;
  let fd: number | null = openSync(path, 'a');
  const id = Math.random().toString(36).slice(2, 8);
  const write = (line: object) => {
    if (fd !== null) writeSync(fd, `${JSON.stringify({ side, id, pid: process.pid, ...line })}\n`);
  };
  return Object.assign(write, {
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  });
}
