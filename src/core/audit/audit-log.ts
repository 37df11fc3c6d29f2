import { appendFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { z } from 'zod';
import { parseJsonLine } from '../../shared/json-line';

export const AuditEntry = z.object({
  time: z.string(),
  who: z.string().describe('the OS user and, where known, the client or peer'),
  action: z.string().describe('dotted verb, e.g. passthrough.bind, peer.revoke, sharing.kill'),
  target: z.string().nullable(),
  result: z.enum(['ok', 'refused', 'failed']),
  detail: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/**
 * Append-only JSONL audit trail. One line per action; never rewritten. With `maxBytes` (a log that
 * strangers can add to, like the peer's), a full file moves to FILE.1 (the one before it is dropped).
 */
export class AuditLog {
  constructor(
    readonly file: string,
    private readonly maxBytes: number | null = null,
  ) {}

  async append(entry: Omit<AuditEntry, 'time' | 'who'> & { who?: string }): Promise<AuditEntry> {
    const full: AuditEntry = {
      time: new Date().toISOString(),
      who: entry.who ?? currentUser(),
      action: entry.action,
      target: entry.target,
      result: entry.result,
      detail: entry.detail,
    };
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    if (this.maxBytes !== null) {
      const size = await stat(this.file).then((s) => s.size, () => 0);
      if (size >= this.maxBytes) await rename(this.file, `${this.file}.1`).catch(() => undefined);
    }
    await appendFile(this.file, `${JSON.stringify(full)}\n`, { mode: 0o600 });
    return full;
  }

  /** The newest `limit` entries, newest last. Lines that do not parse are skipped, not fatal. */
  async tail(limit = 200): Promise<AuditEntry[]> {
    const text = await readFile(this.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      // a torn last line after a crash, or a foreign one, is skipped
      const entry = parseJsonLine(AuditEntry, line);
      if (entry) entries.push(entry);
    }
    return entries.slice(-limit);
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}
