// Bundles the Node-side programs (the `gpu-bridge` CLI and the privileged helper) into out/ as ES modules.
// Dependencies stay external (resolved from node_modules at run time); node: built-ins are never bundled.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = [
  ...builtinModules,
  ...builtinModules.map((name) => `node:${name}`),
  ...Object.keys(pkg.dependencies ?? {}),
].map((name) => new RegExp(`^${name.replace(/[/.]/g, '\\$&')}(/.*)?$`));

const programs = [
  { name: 'cli', entry: 'src/cli/index.ts' },
  { name: 'helper', entry: 'src/helper/index.ts' },
  { name: 'peer', entry: 'src/peer/index.ts' },
].filter((program) => existsSync(program.entry));

for (const program of programs) {
  await build({
    configFile: false,
    logLevel: 'warn',
    define: { __GPU_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
    build: {
      ssr: program.entry,
      outDir: `out/${program.name}`,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      sourcemap: true,
      rollupOptions: {
        external,
        output: { format: 'es', entryFileNames: 'index.mjs', chunkFileNames: 'chunks/[name]-[hash].mjs' },
      },
    },
    ssr: { noExternal: [], target: 'node' },
  });
  console.log(`built out/${program.name}/index.mjs`);
}

// the native rtp data plane beside the bundles (out/native): where there is no gcc, the JavaScript path runs
const native = spawnSync(process.execPath, [new URL('./build-native.mjs', import.meta.url).pathname], { stdio: 'inherit' });
if (native.status !== 0) process.exit(native.status ?? 1);
