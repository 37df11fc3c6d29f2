// Builds the native rtp data plane (native/rtp/*.c) into out/native/libgpubridge-rtp.so with the
// system's gcc. Where there is no compiler it says so and exits 0: the JavaScript path is the fallback.
// Usage: node scripts/build-native.mjs [--out DIR] [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const outIndex = process.argv.indexOf('--out');
const outDir = resolve(outIndex > 0 ? process.argv[outIndex + 1] : join(repo, 'out', 'native'));
const quiet = process.argv.includes('--quiet');
const sourceDir = join(repo, 'native', 'rtp');
const sources = readdirSync(sourceDir).filter((file) => file.endsWith('.c')).sort().map((file) => join(sourceDir, file));
const library = join(outDir, 'libgpubridge-rtp.so');

// up to date: newer than every source and header (test files build it on import, several at once)
const inputs = readdirSync(sourceDir).map((file) => join(sourceDir, file)).concat(import.meta.filename);
if (existsSync(library) && inputs.every((input) => statSync(input).mtimeMs <= statSync(library).mtimeMs)) {
  if (!quiet) console.log(`build-native: ${library} is up to date`);
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
// written aside and renamed into place: a process loading the library never sees half of one
const partial = `${library}.${process.pid}.partial`;
const args = ['-O2', '-g', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-ffp-contract=off', '-o', partial, ...sources, '-ldl', '-lpthread', '-lm'];
const result = spawnSync('gcc', args, { encoding: 'utf8' });
if (result.status === 0) renameSync(partial, library);
else rmSync(partial, { force: true });
if (result.error) {
  console.error(`build-native: SKIPPED, no gcc here (${result.error.message}); the rtp transport runs in JavaScript`);
  process.exit(0);
}
if (result.status !== 0) {
  console.error(`build-native: gcc failed (exit ${result.status}):\n${result.stderr}`);
  process.exit(1);
}
if (!quiet) console.log(`build-native: ${library} (${sources.length} sources)`);
