import { readFile, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';

/** A file's text, or null when it is missing or unreadable (snapshot and sysfs readers: absent means "not said"). */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A sysfs attribute's value: the file's text without its trailing newline, or null when absent. */
export async function readTrimmedOrNull(path: string): Promise<string | null> {
  return (await readTextOrNull(path))?.trim() ?? null;
}

/** The last component of a symlink's target (sysfs `driver`, `iommu_group`), or null when there is no link. */
export async function linkNameOrNull(path: string): Promise<string | null> {
  try {
    return basename(await readlink(path));
  } catch {
    return null;
  }
}
