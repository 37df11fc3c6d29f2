import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../src/core/audit/audit-log';
import type { InputBackend } from '../../../src/core/input/injector';
import { PeersService } from '../../../src/core/pairing/peers-service';
import { TokenStore } from '../../../src/core/pairing/tokens';
import { formatPairUri } from '../../../src/core/pairing/uri';
import { EventHub } from '../../../src/core/rpc/event-hub';
import { SharingService } from '../../../src/core/sharing/sharing-service';
import { PeerAgent } from '../../../src/peer/agent';
import { OpenNotUnderstood } from '../../../src/core/sessions/viewer-link';

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('PeersService (API side of pairing, in one process over loopback TLS)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-peers-svc-'));
  let agent: PeerAgent;
  afterAll(async () => {
    await agent?.stop();
  });

  it('pairs by URI, connects, injects only with the input scope, and the kill switch stops it', async () => {
    agent = new PeerAgent({ configDir: join(root, 'peer'), listen: '127.0.0.1', port: 0, name: 'cloudbox' });
    await agent.start();
    const events = new EventHub();
    const changes: unknown[] = [];
    events.subscribe((message) => changes.push(message));
    const audit = new AuditLog(join(root, 'host', 'audit.jsonl'));
    const sharing = new SharingService(events, audit);
    const calls: string[] = [];
    const backend: InputBackend = {
      keyDown: async (keys) => void calls.push(`down ${keys.join('+')}`),
      keyUp: async (keys) => void calls.push(`up ${keys.join('+')}`),
      move: async (x, y) => void calls.push(`move ${x},${y}`),
      button: async () => undefined,
      wheel: async () => undefined,
    };
    const service = new PeersService({ configDir: join(root, 'host'), audit, events, sharing, inputBackend: async () => backend });
    const { token } = await agent.tokens.issue();
    const record = await service.pair(formatPairUri(agent.addr, agent.fingerprint, token), 'test');
    expect(record).toMatchObject({ name: 'cloudbox', scopes: ['view'] });
    await expect(service.pair(formatPairUri(agent.addr, agent.fingerprint, token), 'test')).rejects.toThrow(/already used/);

    await sharing.set(true, 'test');
    await service.connect('cloudbox');
    await until(async () => (await service.list())[0]!.online && (await service.list())[0]!.rttMs !== null);
    agent.sendInput({ kind: 'mouse.move', x: 5, y: 6 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toEqual([]);

    await service.setScopes('cloudbox', ['view', 'input'], 'test');
    agent.sendInput({ kind: 'text', text: 'A' });
    await until(() => calls.length === 2);
    expect(calls).toEqual(['down LeftShift+A', 'up A+LeftShift']);

    // a stream.open the peer cannot read (as an older peer reads a newer field) fails at once, named as such,
    // not at the link's open timeout (10 s, past this test's)
    const link = await service.viewerLink('cloudbox');
    const refused = await link
      .open({ streamId: '2d9a4c6e-3f70-4e5d-9cab-4a8f9e7d6c5b', transport: 'srt', passphrase: 'A'.repeat(32), latencyMs: 40, codec: 'h264', width: 1280, height: 720, fps: 60, fromTheFuture: true } as never)
      .catch((error: Error) => error);
    expect(refused).toBeInstanceOf(OpenNotUnderstood);
    expect((refused as Error).message).toMatch(/cloudbox could not read the stream\.open .*older gpu-bridge/);

    await sharing.kill('test');
    expect((await service.list())[0]!.online).toBe(false);
    agent.sendInput({ kind: 'text', text: 'b' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toHaveLength(2);

    const revoked = await service.revoke('cloudbox', 'test');
    expect(revoked.revokedAt).not.toBeNull();
    await expect(service.connect(revoked.fingerprint)).rejects.toThrow(/revoked/);
    expect(changes.some((message) => (message as { event: string }).event === 'peers.changed')).toBe(true);
    const log = (await audit.tail()).map((entry) => `${entry.action}:${entry.result}`);
    expect(log).toEqual(expect.arrayContaining(['peer.pair:ok', 'peer.pair:refused', 'peer.connect:ok', 'peer.scopes:ok', 'sharing.kill:ok', 'peer.revoke:ok']));
  });

  it('token store and agent share the config dir', () => {
    expect(new TokenStore(join(root, 'peer')).file).toBe(join(root, 'peer', 'tokens.json'));
  });
});
