import type { Readable } from 'node:stream';
import { lastLines, spawnTied } from '../sessions/child-process';
import type { FrameReader } from './frame-feed';

/**
 * A frame reader that is a child process writing raw frames to its fd 3 (tied to this process's life). Not
 * stdout: wf-recorder prints its chosen region and filter there, which would shift every frame after it.
 * Named by ffmpeg's `pipe:3` and GStreamer's `fd=3`, not `/dev/fd/3`: Node's pipes are socket pairs,
 * which cannot be opened again by path.
 */
export function processReader(file: string, args: string[], env?: NodeJS.ProcessEnv): FrameReader {
  const run = spawnTied(file, args, ['ignore', 'ignore', 'pipe', 'pipe'], env);
  let stderr = '';
  run.child.stderr!.setEncoding('utf8');
  run.child.stderr!.on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exited = run.exited.then((exit) => {
    const how = exit.error ?? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);
    const words = lastLines(stderr);
    return words ? `${how}: ${words}` : how;
  });
  return { frames: run.child.stdio[3] as Readable, exited, stop: () => run.stop(1000) };
}
