import { spawn, type ChildProcess } from 'node:child_process';

/** Starts Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide. */
export function startXvfb(screen = '1024x768x24'): Promise<{ child: ChildProcess; display: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', screen, '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stdio[3]!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve({ child, display: `:${text.trim()}` });
    });
    child.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
  });
}
