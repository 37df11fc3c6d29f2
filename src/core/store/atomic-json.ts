import { chmod, copyFile, readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { replaceFileAtomic } from '../util/atomic-file';

/** A store file that cannot be read and has no usable backup: reported, never silently reset. */
export class StoreCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file} is corrupt (${reason}) and no valid backup (${file}.bak) exists; fix or move it away, it was not reset`);
    this.name = 'StoreCorruptError';
  }
}

export interface WriteOptions {
  /** File mode, default 0600 (store files hold keys and fingerprints). */
  mode?: number;
  /** Keep the previous content as FILE.bak (default true). */
  backup?: boolean;
}

/** Writes text atomically: temp file in the same dir, fsync, rename over; the old content becomes FILE.bak. */
export async function writeFileAtomic(file: string, text: string, options: WriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  await replaceFileAtomic(file, text, {
    mode,
    dirMode: 0o700,
    beforeReplace: async () => {
      if (options.backup === false) return;
      try {
        await copyFile(file, `${file}.bak`);
        await chmod(`${file}.bak`, mode);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
  });
}

export async function writeJsonAtomic(file: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, options);
}

export interface ReadResult<T> {
  value: T;
  /** 'file' normally; 'backup' when the main file was corrupt and was restored from FILE.bak; 'default' when neither exists. */
  source: 'file' | 'backup' | 'default';
  /** Why the main file was rejected, when restored from the backup. */
  problem?: string;
}

async function readParsed<S extends z.ZodType>(file: string, schema: S): Promise<{ ok: true; value: z.output<S> } | { ok: false; missing: boolean; reason: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, reason: 'missing' };
    return { ok: false, missing: false, reason: (error as Error).message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, missing: false, reason: `unexpected content: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  return { ok: true, value: parsed.data };
}

/**
 * Reads and validates a JSON store file. A missing file gives `fallback()`. A corrupt one is restored
 * from FILE.bak (the bad one kept as FILE.corrupt-TIME); with no valid backup, StoreCorruptError.
 */
export async function readJsonStore<S extends z.ZodType>(file: string, schema: S, fallback: () => z.output<S>, options: WriteOptions = {}): Promise<ReadResult<z.output<S>>> {
  const main = await readParsed(file, schema);
  if (main.ok) return { value: main.value, source: 'file' };
  const backup = await readParsed(`${file}.bak`, schema);
  if (main.missing) {
    if (backup.ok) {
      await writeJsonAtomic(file, backup.value, { ...options, backup: false });
      return { value: backup.value, source: 'backup', problem: 'missing' };
    }
    return { value: fallback(), source: 'default' };
  }
  if (!backup.ok) throw new StoreCorruptError(file, main.reason);
  await copyFile(file, `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`).catch(() => undefined);
  await writeJsonAtomic(file, backup.value, { ...options, backup: false });
  return { value: backup.value, source: 'backup', problem: main.reason };
}

/** Serializes read-modify-write cycles on one file within this process. */
export class FileMutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
