import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The native rtp library, built for the tests (scripts/build-native.mjs), or null with the reason printed: a loud skip. */
export function nativeRtpLibrary(testName: string): string | null {
  // a library built elsewhere (a private build while one part is being written)
  const given = process.env.GPU_BRIDGE_NATIVE_RTP_LIB;
  if (given) return given;
  const repo = resolve(import.meta.dirname, '../..');
  const library = resolve(repo, 'out/native/libgpubridge-rtp.so');
  const built = spawnSync(process.execPath, [resolve(repo, 'scripts/build-native.mjs'), '--quiet'], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`scripts/build-native.mjs failed: ${built.stderr}`);
  if (!existsSync(library)) {
    console.log(`${testName}: SKIPPED, the native rtp library could not be built here (${built.stderr.trim() || 'no gcc'})`);
    return null;
  }
  return library;
}
