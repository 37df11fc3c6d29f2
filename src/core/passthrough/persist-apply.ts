// Applies a persistent passthrough setup with byte-for-byte backups, and undoes it exactly. Every path is
// checked (allowed file, no symlink, inside the root) before the first byte is written.
import { createHash } from 'node:crypto';
import { chown, lstat, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PersistRefusal, checkRoot, folderUnder, isAllowedPath, removeDurable, targetUnder, writeBytesAtomic } from './persist-fs';
import type { PersistentSetup } from './persistent';

/** Where backups live, relative to the root (so an alternate root keeps its own). */
export const BACKUP_DIR = 'var/lib/gpu-bridge/persist';

interface ManifestFile {
  path: string;
  existed: boolean;
  mode: number;
  uid: number;
  gid: number;
  backup: string | null;
  originalSha256: string | null;
  writtenSha256: string;
}

export interface PersistManifest {
  version: 1;
  target: string;
  appliedAt: string;
  commands: string[][];
  files: ManifestFile[];
  /** Folders apply created (deepest last); undo removes them again when empty. */
  createdDirs: string[];
}

export interface ApplyResult {
  backupDir: string;
  files: Array<{ path: string; created: boolean }>;
}

export interface UndoResult {
  target: string;
  restored: Array<{ path: string; removed: boolean }>;
  /** The commands that regenerate the boot files after undo (kernelstub's additions become removals). */
  commands: string[][];
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readBytes(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function readManifest(backupDir: string): Promise<PersistManifest | null> {
  const text = await readBytes(join(backupDir, 'manifest.json'));
  if (text === null) return null;
  let m: PersistManifest;
  try {
    m = JSON.parse(text.toString('utf8')) as PersistManifest;
  } catch {
    throw new PersistRefusal(`${join(backupDir, 'manifest.json')} is not valid JSON: nothing was changed`);
  }
  const ok =
    m?.version === 1 &&
    Array.isArray(m.files) &&
    Array.isArray(m.commands) &&
    m.files.every((f) => isAllowedPath(f.path) && (f.backup === null || /^\d{1,3}\.orig$/.test(f.backup)) && f.existed === (f.backup !== null) && Number.isInteger(f.mode)) &&
    Array.isArray(m.createdDirs) &&
    m.createdDirs.every((d) => typeof d === 'string' && !d.split('/').includes('..') && m.files.some((f) => f.path.startsWith(`${d}/`)));
  if (!ok) throw new PersistRefusal(`${join(backupDir, 'manifest.json')} is not a GPU Bridge backup manifest: nothing was changed`);
  return m;
}

/** The backup folder under `root` and its manifest, if a setup is applied there. */
export async function appliedSetup(root: string): Promise<PersistManifest | null> {
  const real = await checkRoot(root);
  return readManifest(await folderUnder(real, BACKUP_DIR));
}

/**
 * Writes `setup.changes` under `root`: first a byte-for-byte backup of every file and a manifest, then each
 * file atomically with its original mode. Refuses (writing nothing) when a setup is already applied, a path is
 * not allowed or goes through a symlink, or a file changed since the diff was made.
 */
export async function applyPersistent(root: string, setup: PersistentSetup, target: string): Promise<ApplyResult> {
  const real = await checkRoot(root);
  const backupDir = await folderUnder(real, BACKUP_DIR);
  const existing = await readManifest(backupDir);
  if (existing) throw new PersistRefusal(`a persistent setup for ${existing.target} is already applied (${existing.appliedAt}); undo it first with: gpu-bridge passthrough persist --undo`);
  if (setup.changes.length === 0) return { backupDir, files: [] };

  const planned: Array<{ file: string; path: string; before: Buffer | null; after: Buffer; mode: number; uid: number; gid: number }> = [];
  for (const c of setup.changes) {
    const file = await targetUnder(real, c.path);
    const before = await readBytes(file);
    // The library reads a missing file as null or '' depending on the file; both mean "not there yet".
    if ((before === null ? '' : before.toString('utf8')) !== (c.before ?? '')) {
      throw new PersistRefusal(`${c.path} changed since the diff was made: nothing was written, run it again`);
    }
    const st = before === null ? null : await stat(file);
    planned.push({ file, path: c.path, before, after: Buffer.from(c.after, 'utf8'), mode: st ? st.mode & 0o7777 : 0o644, uid: st?.uid ?? -1, gid: st?.gid ?? -1 });
  }

  const createdDirs: string[] = [];
  for (const p of planned) {
    const parts = p.path.split('/').filter(Boolean).slice(0, -1);
    for (let i = 1; i <= parts.length; i += 1) {
      const d = `/${parts.slice(0, i).join('/')}`;
      if (!createdDirs.includes(d) && (await lstat(join(real, d)).catch(() => null)) === null) createdDirs.push(d);
    }
  }
  const manifest: PersistManifest = { version: 1, target, appliedAt: new Date().toISOString(), commands: setup.commands, files: [], createdDirs };
  for (const [i, p] of planned.entries()) {
    const backup = p.before === null ? null : `${i}.orig`;
    if (backup !== null && p.before !== null) await writeBytesAtomic(join(backupDir, backup), p.before, 0o600);
    manifest.files.push({ path: p.path, existed: p.before !== null, mode: p.mode, uid: p.uid, gid: p.gid, backup, originalSha256: p.before === null ? null : sha256(p.before), writtenSha256: sha256(p.after) });
  }
  await writeBytesAtomic(join(backupDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
  for (const p of planned) await writeBytesAtomic(p.file, p.after, p.mode);
  return { backupDir, files: planned.map((p) => ({ path: p.path, created: p.before === null })) };
}

/**
 * Puts back every file the applied setup touched, byte for byte with its mode (and owner, as root); files it
 * created are removed. A file edited since apply is refused (nothing written) unless `force`.
 */
export async function undoPersistent(root: string, options: { force?: boolean } = {}): Promise<UndoResult> {
  const real = await checkRoot(root);
  const backupDir = await folderUnder(real, BACKUP_DIR);
  const manifest = await readManifest(backupDir);
  if (!manifest) throw new PersistRefusal(`no persistent setup is applied under ${real} (no ${join('/', BACKUP_DIR, 'manifest.json')}): nothing to undo`);

  const work: Array<{ f: ManifestFile; file: string; original: Buffer | null }> = [];
  const edited: string[] = [];
  for (const f of manifest.files) {
    const file = await targetUnder(real, f.path);
    const original = f.backup === null ? null : await readBytes(join(backupDir, f.backup));
    if (f.existed && (original === null || sha256(original) !== f.originalSha256)) throw new PersistRefusal(`the backup of ${f.path} is missing or damaged: nothing was changed`);
    const current = await readBytes(file);
    const currentSha = current === null ? null : sha256(current);
    if (currentSha !== f.writtenSha256 && currentSha !== f.originalSha256) edited.push(f.path);
    work.push({ f, file, original });
  }
  if (edited.length > 0 && !options.force) throw new PersistRefusal(`${edited.join(', ')} changed since the setup was applied; undo would discard those edits. Nothing was changed; use --force to restore anyway`);

  const asRoot = process.getuid?.() === 0;
  for (const { f, file, original } of work) {
    if (original === null) await removeDurable(file);
    else {
      await writeBytesAtomic(file, original, f.mode);
      if (asRoot && f.uid >= 0) await chown(file, f.uid, f.gid);
    }
  }
  for (const d of [...manifest.createdDirs].reverse()) {
    await rmdir(join(real, d)).catch(() => undefined); // only when empty: anything added since stays
  }
  await removeDurable(join(backupDir, 'manifest.json'));
  await rm(backupDir, { recursive: true, force: true });
  const commands = manifest.commands.map((c) => (c[0] === 'kernelstub' ? c.map((a) => (a === '-a' ? '-d' : a)) : c));
  return { target: manifest.target, restored: work.map(({ f, original }) => ({ path: f.path, removed: original === null })), commands };
}
