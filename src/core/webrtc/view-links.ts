import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { ViewLink } from '../../shared/contract/webrtc';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import { FileMutex, readJsonStore, writeJsonAtomic } from '../store/atomic-json';

const Stored = z.array(ViewLink.extend({ tokenHash: z.string().regex(/^[0-9a-f]{64}$/) }).strict());
type StoredLink = z.infer<typeof Stored>[number];

/** Links kept (used, expired and revoked ones too, for the list); the oldest go first beyond this. */
const KEEP = 200;

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A refused link (or unknown ones together) is audited at most this often. */
const REFUSAL_AUDIT_MS = 60_000;

export type Redeemed = { ok: true; link: ViewLink } | { ok: false; reason: string };

/**
 * View links: a secret in a URL that lets one browser watch once. Only the secret's SHA-256 is kept
 * (view-links.json in the config folder). Making, using, refusing and revoking one are audited like pairing.
 */
export class ViewLinks {
  private readonly file: string;
  private readonly mutex = new FileMutex();

  constructor(
    configDir: string,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {
    this.file = join(configDir, 'view-links.json');
  }

  /** Per refused target (a link, or 'unknown link'): when it was last audited and the refusals since. */
  private readonly refusals = new Map<string, { at: number; since: number }>();

  /**
   * Anyone can present a view link, so its refusals are audited at most once a minute per link (and once
   * for every unknown one together), with the count of those in between: the log stays bounded under a flood.
   */
  private async auditRefusal(from: string, target: string, why: string): Promise<void> {
    const now = this.now();
    const seen = this.refusals.get(target);
    if (seen && now - seen.at < REFUSAL_AUDIT_MS) {
      seen.since += 1;
      return;
    }
    const more = seen && seen.since > 0 ? ` (and ${seen.since} more refused since the last entry)` : '';
    this.refusals.set(target, { at: now, since: 0 });
    await this.audit.append({ who: `view-link:${from.slice(0, 100)}`, action: 'viewlink.use', target, result: 'refused', detail: `${why}${more}` });
  }

  private async read(): Promise<StoredLink[]> {
    return (await readJsonStore(this.file, Stored, () => [])).value;
  }

  private static public({ tokenHash: _hash, ...link }: StoredLink): ViewLink {
    return link;
  }

  async list(): Promise<ViewLink[]> {
    return (await this.read()).map(ViewLinks.public);
  }

  async create(params: { label: string; minutes: number; input: boolean; sessionId?: string }, who: string): Promise<{ link: ViewLink; token: string }> {
    const token = randomBytes(24).toString('base64url');
    const now = this.now();
    const stored: StoredLink = {
      id: randomBytes(8).toString('hex'), label: params.label, sessionId: params.sessionId ?? null, input: params.input,
      createdAt: new Date(now).toISOString(), expiresAt: new Date(now + params.minutes * 60_000).toISOString(), usedAt: null, usedFrom: null, revokedAt: null, tokenHash: hash(token),
    };
    await this.mutex.run(async () => writeJsonAtomic(this.file, [...(await this.read()), stored].slice(-KEEP)));
    await this.audit.append({ who, action: 'viewlink.create', target: `${stored.label} ${stored.id}`, result: 'ok', detail: `${params.input ? 'view and input' : 'view only'}, expires ${stored.expiresAt}` });
    return { link: ViewLinks.public(stored), token };
  }

  async revoke(id: string, who: string): Promise<ViewLink> {
    const revoked = await this.mutex.run(async () => {
      const links = await this.read();
      const link = links.find((l) => l.id === id);
      if (!link) throw new ApiError(ErrorCode.NotFound, `no view link ${id}`);
      link.revokedAt ??= new Date(this.now()).toISOString();
      await writeJsonAtomic(this.file, links);
      return link;
    });
    await this.audit.append({ who, action: 'viewlink.revoke', target: `${revoked.label} ${revoked.id}`, result: 'ok', detail: null });
    return ViewLinks.public(revoked);
  }

  /** Why a link is no good now, or null: it is live. */
  private why(link: StoredLink | undefined): string | null {
    if (!link) return 'no such view link';
    if (link.revokedAt) return 'the view link was revoked';
    if (Date.parse(link.expiresAt) <= this.now()) return 'the view link has expired';
    if (link.usedAt) return 'the view link was already used (it works once)';
    return null;
  }

  /**
   * Whether a token is a live link, without using it (the page's files are served to it). `from`: the
   * link itself was opened (not one of its page's files): a refusal is audited with why.
   */
  async valid(token: string, from?: string): Promise<boolean> {
    const tokenHash = hash(token);
    const link = /^[A-Za-z0-9_-]{32}$/.test(token) ? (await this.read()).find((l) => l.tokenHash === tokenHash) : undefined;
    const why = this.why(link);
    if (why !== null && from !== undefined) await this.auditRefusal(from, link ? `${link.label} ${link.id}` : 'unknown link', why);
    return why === null;
  }

  /** Uses a link: it works once. Refusals are audited with why. */
  async redeem(token: string, from: string): Promise<Redeemed> {
    const tokenHash = hash(token);
    const result = await this.mutex.run(async (): Promise<Redeemed & { label?: string }> => {
      const links = await this.read();
      const link = /^[A-Za-z0-9_-]{32}$/.test(token) ? links.find((l) => l.tokenHash === tokenHash) : undefined;
      const why = this.why(link);
      if (why || !link) return { ok: false, reason: why ?? 'no such view link', label: link ? `${link.label} ${link.id}` : undefined };
      link.usedAt = new Date(this.now()).toISOString();
      link.usedFrom = from.slice(0, 100);
      await writeJsonAtomic(this.file, links);
      return { ok: true, link: ViewLinks.public(link) };
    });
    if (result.ok) await this.audit.append({ who: `view-link:${from.slice(0, 100)}`, action: 'viewlink.use', target: `${result.link.label} ${result.link.id}`, result: 'ok', detail: null });
    else await this.auditRefusal(from, result.label ?? 'unknown link', result.reason);
    return result.ok ? { ok: true, link: result.link } : { ok: false, reason: result.reason };
  }

  /** A link still live (not revoked or expired), for a viewer using it. */
  async stillLive(id: string): Promise<boolean> {
    const link = (await this.read()).find((l) => l.id === id);
    return Boolean(link && !link.revokedAt && Date.parse(link.expiresAt) > this.now());
  }
}
