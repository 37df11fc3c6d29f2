// bench/latency: the X display the pipelines capture. Xvfb picks a free display number itself
// (-displayfd); the moving picture is ffmpeg's testsrc2 shown full size in a borderless SDL window at
// the top-left corner, at the capture size and rate, so every captured frame differs from the last.
import { spawnTied, type SupervisedSpawn } from '../src/core/sessions/child-process';
import { onScreenStampFilters } from '../src/core/sessions/stamp';

export interface Display {
  name: string;
  process: SupervisedSpawn;
}

/** Starts Xvfb on a free display (1920x1080x24); resolves once it accepts clients. */
export async function startXvfb(): Promise<Display> {
  const xvfb = spawnTied('Xvfb', ['-displayfd', '1', '-screen', '0', '1920x1080x24', '-nolisten', 'tcp', '-noreset'], ['ignore', 'pipe', 'pipe']);
  let stderr = '';
  xvfb.child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-1000)));
  const number = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start in 10 s: ${stderr.trim()}`)), 10_000);
    xvfb.child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) {
        clearTimeout(timer);
        resolve(line[1]!);
      }
    });
    void xvfb.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited: ${stderr.trim()}`));
    });
  });
  return { name: `:${number}`, process: xvfb };
}

/**
 * Animates the top-left width×height of the display at `fps` until stopped. `stamp`: each frame's wall-clock
 * time drawn into its bottom 32 rows (the latency stamp's blocks), for capture-to-decode from the screen;
 * the frames then get plain increasing timestamps (SDL's muxer drops frames whose wall-clock ones collide).
 */
export async function startAnimator(display: string, width: number, height: number, fps: number, options: { stamp?: boolean } = {}): Promise<SupervisedSpawn> {
  const input = options.stamp
    ? ['-use_wallclock_as_timestamps', '1', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps},settb=1/1000000,realtime`, '-copyts', '-fps_mode', 'passthrough', '-vf', [...onScreenStampFilters(), `setpts=N/(${fps}*TB)`].join(',')]
    : ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`];
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', ...input,
    '-pix_fmt', 'bgra', '-f', 'sdl2', '-window_x', '0', '-window_y', '0', '-window_borderless', '1', 'bench-latency-animator',
  ];
  const animator = spawnTied('ffmpeg', args, ['ignore', 'ignore', 'pipe'], { ...process.env, DISPLAY: display, SDL_RENDER_DRIVER: 'software' });
  let stderr = '';
  animator.child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-1000)));
  // let the window map and draw its first frames
  await new Promise((resolve) => setTimeout(resolve, 700));
  if (animator.child.exitCode !== null || animator.child.signalCode !== null) throw new Error(`the animator exited: ${stderr.trim()}`);
  return animator;
}
