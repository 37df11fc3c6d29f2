// `npm start`: build, then run the desktop app; where Electron's binary is missing, say so in one line
// and start the web shell instead (printing its URL), so the app runs on any fresh machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

const built = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

function electronBinary() {
  try {
    const dir = dirname(require.resolve('electron/package.json'));
    const pathFile = join(dir, 'path.txt');
    if (!existsSync(pathFile)) return null;
    const relative = require('node:fs').readFileSync(pathFile, 'utf8').trim();
    const binary = join(dir, 'dist', relative);
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

const extra = process.argv.slice(2);
const electron = process.env.GPU_BRIDGE_WEB === '1' ? null : electronBinary();
const child = electron
  ? spawn(electron, ['.', ...extra], { stdio: 'inherit' })
  : (console.log('gpu-bridge: the Electron binary is not installed here; starting the web shell instead (open the URL below).'),
    spawn(process.execPath, ['bin/gpu-bridge.mjs', 'serve', ...extra], { stdio: 'inherit' }));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
