#!/usr/bin/env node
// The installed `gpu-bridge` command: runs the bundled CLI from out/cli (built by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../out/cli/index.mjs', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('gpu-bridge: the CLI is not built yet (out/cli/index.mjs missing). Run `npm run build` in the project folder first.\n');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
