import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/core/audit/audit-log';
import { ViewLinks } from '../../../src/core/webrtc/view-links';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-view-links-'));
  let now = Date.parse('2026-01-01T10:00:00Z');
  const links = new ViewLinks(dir, new AuditLog(join(dir, 'audit.jsonl')), () => now);
  const audit = () => readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { action: string; result: string; target: string; detail: string | null });
  return { dir, links, audit, advance: (ms: number) => (now += ms) };
}

describe('view links', () => {
  it('work once: the second use is refused with why, and both are audited', async () => {
    const { dir, links, audit } = setup();
    const { link, token } = await links.create({ label: 'Ana', minutes: 10, input: false }, 'web:owner');
    expect(readFileSync(join(dir, 'view-links.json'), 'utf8')).not.toContain(token);
    expect(await links.valid(token)).toBe(true);
    expect(await links.redeem(token, '10.0.0.5')).toMatchObject({ ok: true, link: { id: link.id, input: false } });
    expect(await links.redeem(token, '10.0.0.6')).toEqual({ ok: false, reason: 'the view link was already used (it works once)' });
    expect(await links.valid(token)).toBe(false);
    expect(audit().map((e) => `${e.action}:${e.result}`)).toEqual(['viewlink.create:ok', 'viewlink.use:ok', 'viewlink.use:refused']);
    expect((await links.list())[0]).toMatchObject({ usedFrom: '10.0.0.5' });
  });

  it('expire: a link past its time is refused, unused', async () => {
    const { links, advance, audit } = setup();
    const { token } = await links.create({ label: 'Ben', minutes: 1, input: true }, 'web:owner');
    advance(61_000);
    expect(await links.redeem(token, '10.0.0.5')).toEqual({ ok: false, reason: 'the view link has expired' });
    expect(audit().at(-1)).toMatchObject({ action: 'viewlink.use', result: 'refused', detail: 'the view link has expired' });
  });

  it('are revocable, and a link in use stops being live when revoked or expired', async () => {
    const { links, advance } = setup();
    const first = await links.create({ label: 'Cy', minutes: 5, input: false }, 'web:owner');
    const second = await links.create({ label: 'Di', minutes: 5, input: false }, 'web:owner');
    await links.redeem(second.token, 'x');
    await links.revoke(first.link.id, 'web:owner');
    expect(await links.redeem(first.token, 'x')).toEqual({ ok: false, reason: 'the view link was revoked' });
    expect(await links.stillLive(second.link.id)).toBe(true);
    advance(5 * 60_000);
    expect(await links.stillLive(second.link.id)).toBe(false);
  });

  it('refuse what is not a token at all', async () => {
    const { links } = setup();
    for (const bad of ['', 'short', 'x'.repeat(33), '../../etc/passwd']) {
      expect(await links.valid(bad)).toBe(false);
      expect((await links.redeem(bad, 'x')).ok).toBe(false);
    }
  });

  it('audit a flood of refusals boundedly: once a minute per link and once for every unknown one, with the count between', async () => {
    const { links, advance, audit } = setup();
    const { link, token } = await links.create({ label: 'Ed', minutes: 10, input: false }, 'web:owner');
    expect(await links.redeem(token, '10.0.0.5')).toMatchObject({ ok: true });
    for (let i = 0; i < 500; i += 1) {
      await links.redeem(`${'x'.repeat(31)}${i % 10}`, '203.0.113.9');
      await links.valid('not-a-link', '203.0.113.9');
      await links.redeem(token, '203.0.113.9');
    }
    expect(audit().map((e) => `${e.action}:${e.result}:${e.target}`)).toEqual(['viewlink.create:ok:Ed ' + link.id, 'viewlink.use:ok:Ed ' + link.id, 'viewlink.use:refused:unknown link', 'viewlink.use:refused:Ed ' + link.id]);
    advance(60_000);
    await links.redeem('y'.repeat(32), '203.0.113.9');
    expect(audit().at(-1)).toMatchObject({ action: 'viewlink.use', result: 'refused', target: 'unknown link', detail: 'no such view link (and 999 more refused since the last entry)' });
  });
});
