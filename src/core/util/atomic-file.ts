import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** fsync a folder so a rename or unlink in it is durable; some file systems refuse (the rename is still atomic). */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // refused on this file system
  }
}

export interface AtomicWriteOptions {
  /** The file's mode (set explicitly, whatever the umask). */
  mode: number;
  /** Mode of folders created on the way. */
  dirMode: number;
  /** Runs after the new content is on disk and before it replaces the old (e.g. keep a backup); a throw aborts. */
  beforeReplace?: () => Promise<void>;
}

/**
 * Replaces `file` atomically: a temporary file in the same folder, written, chmod-ed and fsync-ed, then
 * renamed over, then the folder fsync-ed. Readers see the old content or the new, never a mix.
 */
export async function replaceFileAtomic(file: string, data: Buffer | string, options: AtomicWriteOptions): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: options.dirMode });
  const temp = join(dir, `.${basename(file)}.gpu-bridge-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(options.mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await options.beforeReplace?.();
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
}
