// The web shell may listen beyond loopback (a headless host), so what a client with no token can hold is
// bounded: connections per address, time to send a request, and view links checked at once. Real
// sockets against the real server in this process; the flooding client comes from 127.0.0.2 so the
// owner (127.0.0.1) is a different address, as on a real network.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core/core';
import { startWebServer, type WebServer } from '../../src/server/web-server';
import { createTestCore } from '../helpers/test-core';
import { TestWsClient } from '../helpers/ws-client';

const FLOOD_FROM = '127.0.0.2';
let core: Core | null = null;
let server: WebServer | null = null;
const opened: Socket[] = [];

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  await server?.close();
  await core?.dispose();
  server = null;
  core = null;
});

async function start(limits: Parameters<typeof startWebServer>[0]['limits']): Promise<WebServer> {
  core = createTestCore('web');
  const rendererDir = mkdtempSync(join(tmpdir(), 'gb-limits-ui-'));
  writeFileSync(join(rendererDir, 'index.html'), '<div id="root"></div>');
  server = await startWebServer({ core, rendererDir, port: 0, limits });
  return server;
}

/** A raw connection from the flooding address; resolves once connected, and records when the server closes it. */
function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: FLOOD_FROM });
    opened.push(socket);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => undefined);
    // read what the server answers (a 408), or the socket never sees its end
    socket.resume();
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** A WebSocket upgrade with a view token from the flooding address; resolves with the HTTP status line's code. */
function viewUpgrade(port: number, token: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: FLOOD_FROM });
    opened.push(socket);
    let head = '';
    socket.on('error', () => resolve(0));
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (status) {
        resolve(Number(status[1]));
        socket.destroy();
      }
    });
    socket.once('close', () => resolve(0));
    socket.write(`GET /ws?view=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\n\r\n`);
  });
}

async function ownerAnswers(shell: WebServer): Promise<void> {
  const owner = await TestWsClient.open(`ws://127.0.0.1:${shell.port}/ws?token=${shell.token}`);
  expect((await owner.call('app.info')).result).toMatchObject({ name: 'gpu-bridge' });
  owner.close();
}

describe('web shell limits for clients with no token', () => {
  it('an address over its connection cap has the rest closed at once, and the owner from another address still gets in', async () => {
    const shell = await start({ maxPerAddress: 20 });
    const sockets = await Promise.all(Array.from({ length: 40 }, () => rawSocket(shell.port)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await ownerAnswers(shell);
    expect(shell.refusals().overAddressCap).toBe(20);
    // the 20 over the cap are closed; the 20 within it are still open (they have not timed out yet)
    const closed = await Promise.all(sockets.map(({ closed }) => Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200))])));
    expect(closed.filter(Boolean)).toHaveLength(20);
  });

  it('a connection that never finishes its request is closed once the headers timeout passes', async () => {
    const shell = await start({ headersTimeoutMs: 1000 });
    const idle = await rawSocket(shell.port);
    const partial = await rawSocket(shell.port);
    partial.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await Promise.all([idle.closed, partial.closed]);
    await ownerAnswers(shell);
  }, 15_000);

  it('a flood of view-link upgrades: each is answered (403 refused, or 503 when too many are being checked), the owner still gets in, and the audit log does not grow with the flood', async () => {
    const shell = await start({ maxPendingViewChecks: 2, maxPerAddress: 1000 });
    const statuses = await Promise.all(Array.from({ length: 150 }, (_, i) => viewUpgrade(shell.port, `bogus-${i}-${'x'.repeat(30)}`)));
    await ownerAnswers(shell);
    expect(statuses.filter((status) => status !== 403 && status !== 503)).toEqual([]);
    expect(statuses.filter((status) => status === 503)).toHaveLength(shell.refusals().viewChecksBusy);
    // refusals are audited at most once a minute per link (unknown ones together)
    const auditFile = join(core!.paths.stateDir, 'audit.jsonl');
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').filter((line) => line.includes('viewlink.use'));
    expect(lines.length).toBeLessThanOrEqual(2);
  }, 30_000);
});
