import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../store/atomic-json';
import { runCommand } from './run-command';

const Cached = z.object({ path: z.string(), mtimeMs: z.number(), size: z.number(), text: z.string().max(1 << 20) });
type Cached = z.infer<typeof Cached>;

let memory: Cached | null = null;

/** Where the list is kept between runs: $GPU_BRIDGE_CACHE_DIR, else $XDG_CACHE_HOME/gpu-bridge (~/.cache/gpu-bridge). */
export function cacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.GPU_BRIDGE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gpu-bridge');
  return join(base, 'ffmpeg-encoders.json');
}

/**
 * `ffmpeg -hide_banner -encoders` of this binary, spawned once per binary: the output is kept, in memory
 * and on disk, under the binary's real path, modification time and size, so an inventory in a new process
 * reads a file instead of starting ffmpeg (about 60 ms), and an upgraded ffmpeg is asked again.
 */
export async function ffmpegEncodersOutput(exe: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const path = await realpath(exe).catch(() => exe);
  const info = await stat(path).catch(() => null);
  if (!info) return null;
  const fresh = (entry: Cached | null): entry is Cached => entry !== null && entry.path === path && entry.mtimeMs === info.mtimeMs && entry.size === info.size;
  if (fresh(memory)) return memory.text;
  const file = cacheFile(env);
  const stored = await readFile(file, 'utf8').then((text) => Cached.safeParse(JSON.parse(text)), () => null).catch(() => null);
  if (stored?.success && fresh(stored.data)) {
    memory = stored.data;
    return memory.text;
  }
  const r = await runCommand(exe, ['-hide_banner', '-encoders'], { timeoutMs: 20_000 });
  if (r.code !== 0) return null;
  memory = { path, mtimeMs: info.mtimeMs, size: info.size, text: r.stdout };
  // a cache that cannot be written (read-only home, a service user) only costs the next run a spawn
  await mkdir(join(file, '..'), { recursive: true }).catch(() => undefined);
  await writeJsonAtomic(file, memory).catch(() => undefined);
  return memory.text;
}

/** Forgets the in-memory copy (tests). */
export function forgetFfmpegEncoders(): void {
  memory = null;
}
