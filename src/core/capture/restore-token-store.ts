import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The portal's restore token, kept 0600 in this user's config folder so the owner approves the screen
 * share once. The portal hands out a new token with every session it restores: the newest is kept.
 */
export class RestoreTokenStore {
  private readonly file: string;

  constructor(configDir: string) {
    this.file = join(configDir, 'portal-restore-token.json');
  }

  async read(): Promise<string | null> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as { token?: unknown };
      // a token is the portal's own opaque string (a UUID today): anything else is not ours to send
      return typeof parsed.token === 'string' && /^[\w-]{1,128}$/.test(parsed.token) ? parsed.token : null;
    } catch {
      return null;
    }
  }

  async write(token: string): Promise<void> {
    if (!/^[\w-]{1,128}$/.test(token)) return;
    const dir = join(this.file, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify({ token, savedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.file);
  }

  async forget(): Promise<void> {
    await rm(this.file, { force: true });
  }
}
