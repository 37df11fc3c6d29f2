import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonStore, StoreCorruptError, writeJsonAtomic } from '../../../src/core/store/atomic-json';

const Schema = z.object({ n: z.number() });
const dir = () => mkdtempSync(join(tmpdir(), 'gb-store-'));

describe('atomic JSON store', () => {
  it('writes with mode 0600, keeps a backup, leaves no temp files', async () => {
    const d = dir();
    const file = join(d, 'a.json');
    await writeJsonAtomic(file, { n: 1 });
    await writeJsonAtomic(file, { n: 2 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.bak`).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ n: 2 });
    expect(JSON.parse(readFileSync(`${file}.bak`, 'utf8'))).toEqual({ n: 1 });
    expect(readdirSync(d).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('missing file gives the default', async () => {
    const result = await readJsonStore(join(dir(), 'none.json'), Schema, () => ({ n: 0 }));
    expect(result).toEqual({ value: { n: 0 }, source: 'default' });
  });

  it('a corrupt file is restored from the backup and the bad copy kept', async () => {
    const d = dir();
    const file = join(d, 'a.json');
    await writeJsonAtomic(file, { n: 1 });
    await writeJsonAtomic(file, { n: 2 });
    writeFileSync(file, '{"n": 2, tor');
    const result = await readJsonStore(file, Schema, () => ({ n: 0 }));
    expect(result.source).toBe('backup');
    expect(result.value).toEqual({ n: 1 });
    expect(result.problem).toMatch(/not JSON/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ n: 1 });
    expect(readdirSync(d).some((name) => name.includes('.corrupt-'))).toBe(true);
  });

  it('schema-invalid content counts as corrupt', async () => {
    const d = dir();
    const file = join(d, 'a.json');
    await writeJsonAtomic(file, { n: 1 });
    await writeJsonAtomic(file, { n: 'x' });
    const result = await readJsonStore(file, Schema, () => ({ n: 0 }));
    expect(result.source).toBe('backup');
    expect(result.problem).toMatch(/unexpected content/);
  });

  it('corrupt without a valid backup is reported, never reset', async () => {
    const d = dir();
    const file = join(d, 'a.json');
    writeFileSync(file, 'garbage');
    await expect(readJsonStore(file, Schema, () => ({ n: 0 }))).rejects.toBeInstanceOf(StoreCorruptError);
    expect(readFileSync(file, 'utf8')).toBe('garbage');
    expect(existsSync(`${file}.bak`)).toBe(false);
  });

  it('concurrent writers never leave a torn file', async () => {
    const d = dir();
    const file = join(d, 'a.json');
    await Promise.all(Array.from({ length: 20 }, (_, n) => writeJsonAtomic(file, { n })));
    const result = await readJsonStore(file, Schema, () => ({ n: -1 }));
    expect(result.source).toBe('file');
  });
});
