import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/core/audit/audit-log';
import { EventHub } from '../../../src/core/rpc/event-hub';
import type { SessionManager } from '../../../src/core/sessions/session-manager';
import { SharingService } from '../../../src/core/sharing/sharing-service';
import { WebRtcService } from '../../../src/core/webrtc/webrtc-service';

// No session is reached: a cut guest's call is refused before it could watch anything, so the session
// manager is an empty stand-in that fails the test if touched.
const untouched = new Proxy({}, { get: (_target, key) => { throw new Error(`the session manager was asked for ${String(key)}`); } }) as SessionManager;

describe('view link guests', () => {
  it('a guest cut off by a revoke is refused on what it still sends, never taken for the owner', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-guest-cut-'));
    const audit = new AuditLog(join(dir, 'audit.jsonl'));
    const service = new WebRtcService({ sessions: untouched, sharing: new SharingService(new EventHub(), audit), inputBackend: () => Promise.reject(new Error('no input here')), portRange: [51200, 51209], configDir: dir, audit });
    const { link, token } = await service.links!.create({ label: 'a colleague', minutes: 10, input: false }, 'web:owner');
    const cuts: string[] = [];
    expect(await service.guestConnected('guest-1', token, '10.0.0.5', (reason) => cuts.push(reason))).toMatchObject({ ok: true });
    await service.handlers()['viewlinks.revoke']({ id: link.id }, { shell: 'web', clientId: 'owner' });
    expect(cuts).toEqual(['the view link was revoked']);
    // its connection is closing, and a message of its own arrives meanwhile
    const watch = async () => service.handlers()['webrtc.watch']({ start: { width: 640, height: 360, fps: 30 } }, { shell: 'web', clientId: 'guest-1' });
    await expect(watch()).rejects.toThrow(/revoked: ask the owner for a new link/);
    // a second revoke (or the expiry check) does not cut it twice
    await Promise.resolve(service.handlers()['viewlinks.revoke']({ id: link.id }, { shell: 'web', clientId: 'owner' })).catch(() => undefined);
    expect(cuts).toHaveLength(1);
  });
});
