import { chmod, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFile, ffmpegEncodersOutput, forgetFfmpegEncoders } from '../../../src/core/exec/ffmpeg-encoders-cache';

let dir = '';
afterEach(async () => {
  forgetFfmpegEncoders();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A stand-in ffmpeg (a shell script) that prints an encoder list and counts how often it was started. */
async function fakeFfmpeg(): Promise<{ exe: string; starts: () => Promise<number> }> {
  dir = await mkdtemp(join(tmpdir(), 'gb-ffmpeg-cache-'));
  const exe = join(dir, 'ffmpeg');
  const count = join(dir, 'starts');
  await writeFile(exe, `#!/bin/sh\necho x >> "${count}"\necho 'Encoders:'\necho ' V....D libx264              libx264 H.264'\n`);
  await chmod(exe, 0o755);
  return { exe, starts: async () => (await readFile(count, 'utf8').catch(() => '')).split('\n').filter(Boolean).length };
}

describe('ffmpeg -encoders, asked once per binary', () => {
  it('keeps the answer in memory and on disk, and asks again when the binary changes', async () => {
    const { exe, starts } = await fakeFfmpeg();
    const env = { GPU_BRIDGE_CACHE_DIR: join(dir, 'cache') };
    expect(await ffmpegEncodersOutput(exe, env)).toContain('libx264');
    expect(await ffmpegEncodersOutput(exe, env)).toContain('libx264');
    expect(await starts()).toBe(1);
    // a new process: nothing in memory, the file answers
    forgetFfmpegEncoders();
    expect(await ffmpegEncodersOutput(exe, env)).toContain('libx264');
    expect(await starts()).toBe(1);
    expect(JSON.parse(await readFile(cacheFile(env), 'utf8'))).toMatchObject({ path: exe });
    // an upgrade (another modification time): asked again
    await utimes(exe, new Date(), new Date(Date.now() + 5000));
    expect(await ffmpegEncodersOutput(exe, env)).toContain('libx264');
    expect(await starts()).toBe(2);
  });

  it('a cache that cannot be written or read costs a spawn, never an error', async () => {
    const { exe, starts } = await fakeFfmpeg();
    // a "directory" under a file: every write there fails at once
    const env = { GPU_BRIDGE_CACHE_DIR: join(exe, 'cache') };
    expect(await ffmpegEncodersOutput(exe, env)).toContain('libx264');
    forgetFfmpegEncoders();
    await writeFile(join(dir, 'garbage.json'), '{not json');
    expect(await ffmpegEncodersOutput(exe, { GPU_BRIDGE_CACHE_DIR: dir })).toContain('libx264');
    expect(await starts()).toBe(2);
    expect(await ffmpegEncodersOutput(join(dir, 'missing'), env)).toBeNull();
  });
});
