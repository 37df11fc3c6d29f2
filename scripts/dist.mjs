// `npm run dist`: AppImage and deb with electron-builder. It needs an Electron build, which it downloads;
// where that cannot be had (no route to Electron's release host), fail with one clear message.
import { spawnSync } from 'node:child_process';
import { request } from 'node:https';

function reachable(url) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'HEAD', timeout: 5000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

if (!process.env.ELECTRON_CACHE && !(await reachable('https://github.com/electron/electron/releases'))) {
  console.error('dist: cannot package: electron-builder needs an Electron build and Electron\'s release host is unreachable from here. Set ELECTRON_CACHE to a folder holding the Electron zip for this version, or run on a machine with access.');
  process.exit(1);
}
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const result = spawnSync(process.execPath, ['node_modules/electron-builder/cli.js', '--linux', 'AppImage', 'deb', '--publish', 'never'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
