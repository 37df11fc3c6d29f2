import { readFile, stat } from 'node:fs/promises';

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
