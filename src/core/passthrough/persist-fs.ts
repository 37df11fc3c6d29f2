// File access for persistent passthrough: only the files it may change, never through a symlink, every
// write atomic (temporary file in the same folder, fsync, rename over, fsync the folder).
import { lstat, realpath, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { fsyncDir, replaceFileAtomic } from '../util/atomic-file';

/** A request that is refused before anything is written (bad root, a path outside the allowed files, a symlink). */
export class PersistRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PersistRefusal';
  }
}

/** The only host files persistent passthrough ever writes (see planPersistentSetup). */
const ALLOWED = [
  /^\/etc\/default\/grub$/,
  /^\/etc\/modprobe\.d\/gpu-bridge-vfio\.conf$/,
  /^\/etc\/initramfs-tools\/modules$/,
  /^\/etc\/dracut\.conf\.d\/gpu-bridge-vfio\.conf$/,
  /^\/etc\/mkinitcpio\.conf$/,
  /^\/boot\/loader\/entries\/[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,200}\.conf$/,
];

export function isAllowedPath(path: string): boolean {
  return typeof path === 'string' && !path.split('/').includes('..') && ALLOWED.some((re) => re.test(path));
}

/** An alternate root must be an absolute, normalized path (no `..`, no `.`) to an existing folder. Returns its real path. */
export async function checkRoot(root: string): Promise<string> {
  const trimmed = root.length > 1 ? root.replace(/\/+$/, '') : root;
  if (!isAbsolute(trimmed) || normalize(trimmed) !== trimmed || trimmed.split('/').some((p) => p === '..' || p === '.')) {
    throw new PersistRefusal(`root ${JSON.stringify(root.slice(0, 200))} must be an absolute path without "." or ".." components`);
  }
  const st = await lstat(trimmed).catch(() => null);
  if (!st?.isDirectory()) throw new PersistRefusal(`root ${trimmed} is not a folder`);
  return realpath(trimmed);
}

async function walk(root: string, parts: string[], kind: 'file' | 'dir'): Promise<string> {
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    const shown = join('/', ...parts.slice(0, i + 1));
    const st = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (st === null) break;
    const last = i === parts.length - 1;
    if (st.isSymbolicLink()) throw new PersistRefusal(`${shown} is a symlink under ${root}: refusing to write through it`);
    if ((!last || kind === 'dir') && !st.isDirectory()) throw new PersistRefusal(`${shown} under ${root} is not a folder`);
    if (last && kind === 'file' && !st.isFile()) throw new PersistRefusal(`${shown} under ${root} is not a regular file`);
  }
  return join(root, ...parts);
}

/**
 * Where `path` (allowed, absolute on the host) lives under `root` (a real path from checkRoot). Every
 * existing component below the root must be a real folder, and the file itself a regular file or
 * absent: a symlink anywhere could point the write outside the root or at another file.
 */
export async function targetUnder(root: string, path: string): Promise<string> {
  if (!isAllowedPath(path)) throw new PersistRefusal(`${JSON.stringify(String(path).slice(0, 200))} is not a file persistent passthrough may change`);
  return walk(root, path.split('/').filter(Boolean), 'file');
}

/** A fixed folder under `root` (like var/lib/gpu-bridge/persist), with the same no-symlink rule. */
export async function folderUnder(root: string, relative: string): Promise<string> {
  return walk(root, relative.split('/').filter(Boolean), 'dir');
}

/** Writes bytes atomically with the given mode: a temporary file in the same folder, fsync, rename over. */
export async function writeBytesAtomic(file: string, data: Buffer | string, mode: number): Promise<void> {
  await replaceFileAtomic(file, data, { mode, dirMode: 0o755 });
}

/** Removes a file and makes the removal durable. */
export async function removeDurable(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await fsyncDir(dirname(file));
}
