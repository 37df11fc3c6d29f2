// `npm run dist:peer`: dist/gpu-bridge-peer-<version>-linux-x64.tar.gz, the peer for a cloud instance with no
// Node.js: one executable (a Node single executable application: this Node with the peer commands, bundled
// into one CommonJS file, injected with postject), koffi beside it (the native FFI module the peer uses for
// libsrt's statistics; without it SRT falls back to ffmpeg's input), native/libgpubridge-rtp.so (the rtp
// receiver's data plane, built here with gcc: the instance needs no compiler), install.sh and the systemd unit.
// The distribution's ffmpeg is all it needs besides. Usage: node scripts/dist-peer.mjs [--out DIR]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repo = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const outIndex = process.argv.indexOf('--out');
const distDir = resolve(outIndex > 0 ? process.argv[outIndex + 1] : join(repo, 'dist'));
const name = `gpu-bridge-peer-${pkg.version}-linux-x64`;
const work = join(distDir, '.peer-build');
const stage = join(work, name);
const step = (what) => console.log(`dist:peer: ${what}`);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`dist:peer: builds linux-x64 only (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}

function run(file, args, options = {}) {
  const result = spawnSync(file, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) {
    console.error(`dist:peer: ${file} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}

rmSync(work, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

step('bundling the peer commands into one CommonJS file');
const native = ['koffi'];
// ws's optional native speed-ups: required inside try/catch, absent here
const optional = ['bufferutil', 'utf-8-validate'];
await build({
  configFile: false,
  logLevel: 'warn',
  root: repo,
  // qrcode-terminal writes its colours as octal escapes ("\033"), which a module parser refuses
  plugins: [{ name: 'octal-escapes', transform: (code, id) => (id.includes('qrcode-terminal') ? code.replaceAll('\\033', '\\x1b') : null) }],
  define: { __GPU_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  build: {
    ssr: join(repo, 'src/cli/peer-main.ts'),
    outDir: join(work, 'bundle'),
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: {
      external: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...native, ...optional],
      output: { format: 'cjs', entryFileNames: 'peer.cjs', codeSplitting: false },
    },
  },
  ssr: { noExternal: true, target: 'node' },
});

step('making the single executable (this Node, with the bundle injected)');
const seaConfig = join(work, 'sea.json');
writeFileSync(seaConfig, JSON.stringify({ main: join(work, 'bundle', 'peer.cjs'), output: join(work, 'peer.blob'), disableExperimentalSEAWarning: true, useCodeCache: false }));
run(process.execPath, ['--experimental-sea-config', seaConfig]);
const executable = join(stage, 'gpu-bridge-peer');
copyFileSync(process.execPath, executable);
chmodSync(executable, 0o755);
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
run(process.execPath, [postject, executable, 'NODE_SEA_BLOB', join(work, 'peer.blob'), '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'inherit'] });

step('koffi beside it (linux-x64 only)');
const koffiDir = join(repo, 'node_modules', 'koffi');
const koffiOut = join(stage, 'node_modules', 'koffi');
mkdirSync(join(koffiOut, 'build', 'koffi'), { recursive: true });
for (const file of ['package.json', 'index.js', 'indirect.js', 'LICENSE.txt']) if (existsSync(join(koffiDir, file))) copyFileSync(join(koffiDir, file), join(koffiOut, file));
cpSync(join(koffiDir, 'build', 'koffi', 'linux_x64'), join(koffiOut, 'build', 'koffi', 'linux_x64'), { recursive: true });

step('the native rtp data plane beside it (native/libgpubridge-rtp.so, built here with gcc)');
const nativeDir = join(work, 'native');
run(process.execPath, [join(repo, 'scripts', 'build-native.mjs'), '--out', nativeDir]);
if (!existsSync(join(nativeDir, 'libgpubridge-rtp.so'))) {
  console.error('dist:peer: the native rtp data plane did not build (gcc missing?): the peer would run its receiver in JavaScript; install gcc and build again');
  process.exit(1);
}
mkdirSync(join(stage, 'native'), { recursive: true });
copyFileSync(join(nativeDir, 'libgpubridge-rtp.so'), join(stage, 'native', 'libgpubridge-rtp.so'));

step('install.sh, the systemd unit, README');
for (const file of ['install.sh', 'gpu-bridge-peer.service', 'README.txt']) copyFileSync(join(repo, 'resources', 'peer', file), join(stage, file));
chmodSync(join(stage, 'install.sh'), 0o755);
writeFileSync(join(stage, 'VERSION'), `${pkg.version}\n`);

step('checking it runs');
const check = spawnSync(executable, ['--version'], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
if (check.status !== 0 || check.stdout.trim() !== pkg.version) {
  console.error(`dist:peer: the executable does not run: ${check.stderr || check.stdout || check.error?.message}`);
  process.exit(1);
}

mkdirSync(distDir, { recursive: true });
const tarball = join(distDir, `${name}.tar.gz`);
step(`writing ${tarball}`);
run('tar', ['-czf', tarball, '-C', work, name]);
rmSync(work, { recursive: true, force: true });
console.log(tarball);
