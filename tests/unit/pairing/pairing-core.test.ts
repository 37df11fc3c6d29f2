import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ClockEstimator } from '../../../src/core/pairing/channel';
import { loadOrCreateIdentity } from '../../../src/core/pairing/identity';
import { PartyStore } from '../../../src/core/pairing/party-store';
import { TokenStore } from '../../../src/core/pairing/tokens';
import { formatPairUri, parsePairUri } from '../../../src/core/pairing/uri';
import { ControlMessage } from '../../../src/shared/contract/peers';
import { StoreCorruptError } from '../../../src/core/store/atomic-json';

const dir = () => mkdtempSync(join(tmpdir(), 'gb-pairing-unit-'));
const FP = 'ab'.repeat(32);

describe('pairing URI', () => {
  it('round-trips', () => {
    const uri = formatPairUri('10.0.0.5:47800', FP, 'A'.repeat(43));
    expect(uri).toBe(`gpubridge://pair?addr=10.0.0.5%3A47800&fp=${FP}&token=${'A'.repeat(43)}`);
    expect(parsePairUri(uri)).toMatchObject({ host: '10.0.0.5', port: 47800, fingerprint: FP, token: 'A'.repeat(43) });
  });

  it('accepts IPv6 and colon-separated uppercase fingerprints', () => {
    const colon = (FP.toUpperCase().match(/.{2}/g) ?? []).join(':');
    const parsed = parsePairUri(`gpubridge://pair?addr=[::1]:9&fp=${colon}&token=${'b'.repeat(20)}`);
    expect(parsed).toMatchObject({ host: '::1', port: 9, fingerprint: FP });
  });

  it.each([
    ['https://pair?addr=a:1', /not a pairing URI/],
    ['gpubridge://other?addr=a:1', /not a pairing URI/],
    [`gpubridge://pair?addr=nohost&fp=${FP}&token=${'a'.repeat(20)}`, /bad addr/],
    [`gpubridge://pair?addr=a:0&fp=${FP}&token=${'a'.repeat(20)}`, /bad port/],
    [`gpubridge://pair?addr=a:1&fp=abc&token=${'a'.repeat(20)}`, /bad fp/],
    [`gpubridge://pair?addr=a:1&fp=${FP}&token=short`, /bad token/],
    ['not a uri at all', /not a pairing URI/],
  ])('refuses %s', (uri, message) => {
    expect(() => parsePairUri(uri)).toThrow(message);
  });

  it('never throws anything but a clear Error on arbitrary input', () => {
    fc.assert(fc.property(fc.string(), (text) => {
      try {
        parsePairUri(text);
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
      }
    }));
  });
});

describe('one-time tokens', () => {
  it('are valid once, for at most 10 minutes, and stored only as hashes', async () => {
    const d = dir();
    const store = new TokenStore(d);
    const now = 1_000_000;
    const { token, expiresAt } = await store.issue(60 * 60 * 1000, now);
    expect(expiresAt - now).toBe(10 * 60 * 1000);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(d, 'tokens.json'), 'utf8')).not.toContain(token);
    expect(statSync(join(d, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(await store.consume('forged-token-forged-token', now)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.consume(token, now + 1000)).toEqual({ ok: true });
    expect(await store.consume(token, now + 2000)).toEqual({ ok: false, reason: 'used' });
    const second = await store.issue(undefined, now);
    expect(await store.consume(second.token, now + 10 * 60 * 1000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('concurrent consumers: exactly one wins', async () => {
    const store = new TokenStore(dir());
    const { token } = await store.issue();
    const results = await Promise.all(Array.from({ length: 8 }, () => new TokenStore(store.file.replace(/\/tokens\.json$/, '')).consume(token)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});

describe('party store', () => {
  it('pairs with view only, grants, revokes, re-pairs', async () => {
    const store = new PartyStore(dir(), 'peers');
    const record = await store.upsert({ fingerprint: FP, name: 'gpu box', addr: '1.2.3.4:5' });
    expect(record.scopes).toEqual(['view']);
    expect(record.name).toBe('gpu-box');
    expect((await store.setScopes(FP, ['view', 'input', 'input']))!.scopes).toEqual(['view', 'input']);
    expect(await store.find('gpu-box')).toMatchObject({ fingerprint: FP });
    expect(await store.find(FP.slice(0, 10))).toMatchObject({ fingerprint: FP });
    const revoked = (await store.revoke(FP))!;
    expect(revoked.revokedAt).not.toBeNull();
    expect(revoked.scopes).toEqual([]);
    expect(await store.setScopes(FP, ['input'])).toBeNull();
    const again = await store.upsert({ fingerprint: FP, name: 'gpu box', addr: null });
    expect(again.revokedAt).toBeNull();
    expect(again.addr).toBe('1.2.3.4:5');
  });

  it('gives distinct names to distinct parties', async () => {
    const store = new PartyStore(dir(), 'hosts');
    await store.upsert({ fingerprint: FP, name: 'x', addr: null });
    const second = await store.upsert({ fingerprint: 'cd'.repeat(32), name: 'x', addr: null });
    expect(second.name).toBe('x-2');
  });

  it('a corrupt store without backup is reported, not reset', async () => {
    const d = dir();
    writeFileSync(join(d, 'peers.json'), '{"version":1,"parties":[{');
    await expect(new PartyStore(d, 'peers').list()).rejects.toBeInstanceOf(StoreCorruptError);
  });
});

describe('identity', () => {
  it('is created once with 0600 files and reused', async () => {
    const d = dir();
    const first = await loadOrCreateIdentity(d, 'test');
    expect(statSync(join(d, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'cert.pem')).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateIdentity(d, 'test');
    expect(second.fingerprint).toBe(first.fingerprint);
  });

  it('a half identity is reported, not replaced', async () => {
    const d = dir();
    await loadOrCreateIdentity(d, 'test');
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(d, 'cert.pem'));
    await expect(loadOrCreateIdentity(d, 'test')).rejects.toThrow(/incomplete/);
  });
});

describe('clock estimator (NTP-style)', () => {
  it('recovers a known offset from symmetric exchanges and trusts the fastest sample', () => {
    const clock = new ClockEstimator();
    const offset = 1234.5;
    // symmetric 2 ms each way
    clock.add(0, 2 + offset, 2.1 + offset, 4.1);
    // asymmetric and slow: 30 ms out, 2 ms back
    clock.add(10, 40 + offset, 40 + offset, 42);
    expect(clock.offsetMs).toBeCloseTo(offset, 6);
    expect(clock.rttMs).toBeCloseTo(32, 6);
    expect(clock.count).toBe(2);
  });

  it('gives the path\'s round trip as the smallest of the last samples, not a late one (the ping at connect waits for the peer\'s set-up)', () => {
    const clock = new ClockEstimator(3);
    clock.add(0, 40, 40, 69);
    expect(clock.pathRttMs).toBe(69);
    clock.add(100, 115, 115, 130);
    clock.add(200, 230, 230, 281);
    expect(clock.rttMs).toBe(81);
    expect(clock.pathRttMs).toBe(30);
    // only the last few count: a path that became slower is followed
    clock.add(300, 340, 340, 380);
    clock.add(400, 440, 440, 480);
    expect(clock.pathRttMs).toBe(80);
  });
});

describe('control message schema', () => {
  it('accepts the protocol and refuses unknown or extra fields', () => {
    expect(ControlMessage.safeParse({ type: 'ping', id: 1, t0: 2 }).success).toBe(true);
    expect(ControlMessage.safeParse({ type: 'input', event: { kind: 'text', text: 'hi' } }).success).toBe(true);
    expect(ControlMessage.safeParse({ type: 'ping', id: 1, t0: 2, extra: 1 }).success).toBe(false);
    expect(ControlMessage.safeParse({ type: 'shell', cmd: 'rm -rf /' }).success).toBe(false);
    expect(ControlMessage.safeParse({ type: 'input', event: { kind: 'mouse.move', x: -1, y: 0 } }).success).toBe(false);
    expect(ControlMessage.safeParse({ type: 'input', event: { kind: 'text', text: 'x'.repeat(1001) } }).success).toBe(false);
  });
});
