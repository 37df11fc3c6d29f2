import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/core/audit/audit-log';
import { PeersService } from '../../../src/core/pairing/peers-service';
import { EventHub } from '../../../src/core/rpc/event-hub';
import { SessionManager } from '../../../src/core/sessions/session-manager';
import type { OpenRequest, ViewerLink } from '../../../src/core/sessions/viewer-link';
import { SharingService } from '../../../src/core/sharing/sharing-service';

/** A viewer whose receiver is a real UDP socket on loopback (what arrives is not read). */
class LoopbackViewer extends EventEmitter implements ViewerLink {
  readonly socket: Socket = createSocket('udp4');
  constructor(readonly name: string) {
    super();
  }

  async open(_request: OpenRequest): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return { host: '127.0.0.1', port: this.socket.address().port };
  }

  async close(): Promise<void> {
    this.socket.close();
  }

  clock() {
    return { offsetMs: 0, rttMs: 1 };
  }
}

describe('the session manager\'s limit on sessions', () => {
  let root = '';
  let manager: SessionManager | null = null;
  afterEach(async () => {
    await manager?.stopAll('test over');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('counts live sessions only: one ended (still listed for its reason) does not keep a new one out', async () => {
    root = await mkdtemp(join(tmpdir(), 'gb-session-limit-'));
    const events = new EventHub();
    const audit = new AuditLog(join(root, 'audit.jsonl'));
    const sharing = new SharingService(events, audit);
    const peers = new PeersService({ configDir: root, audit, events, sharing, inputBackend: async () => { throw new Error('no input in this test'); } });
    manager = new SessionManager({ peers, sharing, audit, events, maxSessions: 1, configDir: root });
    await sharing.set(true, 'test');
    // real ffmpeg (libx264) from the test pattern, each with its own settings so none shares an encoder
    const request = (fps: number) => ({ width: 320, height: 240, fps, source: { kind: 'test' as const } });

    const first = await manager.startFor(new LoopbackViewer('viewer one'), request(10), 'test', false);
    await expect(manager.startFor(new LoopbackViewer('viewer two'), request(12), 'test', false)).rejects.toThrow(/already 1 sessions \(the maximum is 1\)/);
    await manager.stop(first.id, 'test');
    expect(manager.list().find((s) => s.id === first.id)?.state).toBe('stopped');

    const second = await manager.startFor(new LoopbackViewer('viewer three'), request(15), 'test', false);
    expect(second.id).not.toBe(first.id);
    expect(manager.liveCount).toBe(1);
    expect(manager.list().map((s) => s.id)).toEqual([first.id, second.id]);
  });
});
