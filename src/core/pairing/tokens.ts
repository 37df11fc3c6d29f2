import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonStore, writeJsonAtomic } from '../store/atomic-json';

export const TOKEN_TTL_MS = 10 * 60 * 1000;

const TokenEntry = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.number(), expiresAt: z.number(), usedAt: z.number().nullable() });
const TokenFile = z.object({ version: z.literal(1), tokens: z.array(TokenEntry) });
type TokenFile = z.infer<typeof TokenFile>;

export type TokenCheck = { ok: true } | { ok: false; reason: 'unknown' | 'expired' | 'used' };

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * One-time pairing tokens of the peer agent, kept in `tokens.json` (only their SHA-256) so that
 * `peer pair` (one process) can issue them while `peer run` (another) consumes them. A lock file
 * serializes the two processes.
 */
export class TokenStore {
  readonly file: string;
  private readonly lockFile: string;

  constructor(configDir: string) {
    this.file = join(configDir, 'tokens.json');
    this.lockFile = join(configDir, 'tokens.lock');
  }

  private async withLock<T>(task: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (Date.now() > deadline) {
          // a holder that crashed: take the lock over
          await unlink(this.lockFile).catch(() => undefined);
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    try {
      return await task();
    } finally {
      await unlink(this.lockFile).catch(() => undefined);
    }
  }

  private async read(): Promise<TokenFile> {
    return (await readJsonStore(this.file, TokenFile, () => ({ version: 1 as const, tokens: [] }))).value;
  }

  /** A fresh token (256 bits, base64url) valid for `ttlMs` (at most 10 minutes) and one use. */
  async issue(ttlMs = TOKEN_TTL_MS, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const ttl = Math.min(Math.max(ttlMs, 1), TOKEN_TTL_MS);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + ttl;
    await this.withLock(async () => {
      const data = await this.read();
      // drop tokens that are long past use
      data.tokens = data.tokens.filter((entry) => entry.expiresAt > now - 24 * 60 * 60 * 1000);
      data.tokens.push({ hash: hashToken(token).toString('hex'), createdAt: now, expiresAt, usedAt: null });
      await writeJsonAtomic(this.file, data);
    });
    return { token, expiresAt };
  }

  /** Checks a token and, when valid, marks it used (atomically with the check). */
  async consume(token: string, now = Date.now()): Promise<TokenCheck> {
    const wanted = hashToken(token);
    return this.withLock(async () => {
      const data = await this.read();
      const entry = data.tokens.find((candidate) => timingSafeEqual(Buffer.from(candidate.hash, 'hex'), wanted));
      if (!entry) return { ok: false, reason: 'unknown' } as const;
      if (entry.usedAt !== null) return { ok: false, reason: 'used' } as const;
      if (entry.expiresAt <= now) return { ok: false, reason: 'expired' } as const;
      entry.usedAt = now;
      await writeJsonAtomic(this.file, data);
      return { ok: true } as const;
    });
  }
}
