import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';

/** The characters of every KeyPress that produced text in xev's log, in order. */
export function typedText(xevLog: string): string {
  let text = '';
  for (const block of xevLog.split(/\n\s*\n/)) {
    if (!block.startsWith('KeyPress')) continue;
    const match = /XLookupString gives (\d+) bytes: \(([0-9a-f ]+)\)/.exec(block);
    if (!match || match[1] === '0') continue;
    text += Buffer.from(match[2]!.replace(/ /g, ''), 'hex').toString('latin1').replace('\r', '\n');
  }
  return text;
}

/** An xev window on `display` at `geometry` (WxH+X+Y) logging its keyboard events to `logPath`. */
export function startXev(display: string, geometry: string, logPath: string): ChildProcess {
  return spawn('xev', ['-geometry', geometry, '-event', 'keyboard'], { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', openSync(logPath, 'w'), 'ignore'] });
}
