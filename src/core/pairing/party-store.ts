import { join } from 'node:path';
import { z } from 'zod';
import { PeerRecord, type PeerScope } from '../../shared/contract/peers';
import { FileMutex, readJsonStore, writeJsonAtomic } from '../store/atomic-json';

const StoreFile = z.object({ version: z.literal(1), parties: z.array(PeerRecord) });

/**
 * The parties this side has paired with: the host's `peers.json`, the peer agent's `hosts.json`.
 * Re-read on every call, so a revoke by another process takes effect at once.
 */
export class PartyStore {
  private readonly mutex = new FileMutex();
  readonly file: string;

  constructor(configDir: string, kind: 'peers' | 'hosts') {
    this.file = join(configDir, `${kind}.json`);
  }

  async list(): Promise<PeerRecord[]> {
    const { value } = await readJsonStore(this.file, StoreFile, () => ({ version: 1 as const, parties: [] }));
    return value.parties;
  }

  async get(fingerprint: string): Promise<PeerRecord | null> {
    return (await this.list()).find((party) => party.fingerprint === fingerprint) ?? null;
  }

  /** An active (not revoked) party by name or fingerprint (a unique fingerprint prefix of 8+ digits works too). */
  async find(ref: string): Promise<PeerRecord | null> {
    const all = await this.list();
    const needle = ref.toLowerCase().replace(/:/g, '');
    const exact = all.filter((party) => party.name === ref || party.fingerprint === needle);
    if (exact.length > 0) return exact.find((party) => party.revokedAt === null) ?? exact[0]!;
    if (needle.length >= 8) {
      const byPrefix = all.filter((party) => party.fingerprint.startsWith(needle));
      if (byPrefix.length === 1) return byPrefix[0]!;
    }
    return null;
  }

  private update(mutate: (parties: PeerRecord[]) => PeerRecord | null): Promise<PeerRecord | null> {
    return this.mutex.run(async () => {
      const parties = await this.list();
      const changed = mutate(parties);
      if (changed) await writeJsonAtomic(this.file, { version: 1, parties });
      return changed;
    });
  }

  /** Adds or re-pairs a party (re-pairing lifts a revoke; scopes of a re-paired party are kept). */
  async upsert(entry: { fingerprint: string; name: string; addr: string | null; scopes?: PeerScope[] }): Promise<PeerRecord> {
    const now = new Date().toISOString();
    const result = await this.update((parties) => {
      const existing = parties.find((party) => party.fingerprint === entry.fingerprint);
      if (existing) {
        existing.name = entry.name;
        existing.addr = entry.addr ?? existing.addr;
        existing.revokedAt = null;
        existing.pairedAt = now;
        return existing;
      }
      const record: PeerRecord = { fingerprint: entry.fingerprint, name: uniqueName(parties, entry.name), addr: entry.addr, scopes: entry.scopes ?? ['view'], pairedAt: now, lastSeen: null, revokedAt: null };
      parties.push(record);
      return record;
    });
    return result!;
  }

  async revoke(fingerprint: string): Promise<PeerRecord | null> {
    return this.update((parties) => {
      const party = parties.find((candidate) => candidate.fingerprint === fingerprint);
      if (!party) return null;
      party.revokedAt = new Date().toISOString();
      party.scopes = [];
      return party;
    });
  }

  async setScopes(fingerprint: string, scopes: PeerScope[]): Promise<PeerRecord | null> {
    return this.update((parties) => {
      const party = parties.find((candidate) => candidate.fingerprint === fingerprint && candidate.revokedAt === null);
      if (!party) return null;
      party.scopes = [...new Set(scopes)];
      return party;
    });
  }

  async touch(fingerprint: string): Promise<void> {
    await this.update((parties) => {
      const party = parties.find((candidate) => candidate.fingerprint === fingerprint);
      if (!party) return null;
      party.lastSeen = new Date().toISOString();
      return party;
    });
  }
}

function uniqueName(parties: PeerRecord[], wanted: string): string {
  const clean = wanted.replace(/[^\w.@-]+/g, '-').slice(0, 100) || 'peer';
  let name = clean;
  for (let n = 2; parties.some((party) => party.name === name); n += 1) name = `${clean}-${n}`;
  return name;
}
