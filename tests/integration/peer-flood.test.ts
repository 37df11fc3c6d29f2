import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createSelfSignedIdentity, certificateFingerprint, type SelfSignedIdentity } from '../../src/core/crypto/self-signed';
import { openApi } from '../helpers/api-client';
import { pairHostWithPeer, spawnCli, startServe, type RunningCli, type ServeHandle } from '../helpers/spawn-cli';
import { until } from '../helpers/until';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg) console.warn('SKIP peer flood tests: ffmpeg is not installed (CI installs it with .ci/run)');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Connections that are closed once the other side closes them (or they fail), counted. */
class Flood {
  readonly sockets: Socket[] = [];
  closed = 0;

  track<T extends Socket>(socket: T): T {
    this.sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => (this.closed += 1));
    return socket;
  }

  end(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/** A source address of its own on loopback: 127.0.0.N (the whole 127/8 reaches lo). */
const from = (n: number) => `127.0.0.${n}`;

describe.skipIf(!hasFfmpeg)('the peer on the open internet, under a flood on loopback (bounded in count and time)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-flood-'));
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  let peer: RunningCli;
  let port = 0;
  let serve: ServeHandle | null = null;
  const floods: Flood[] = [];

  beforeAll(async () => {
    peer = spawnCli(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless']);
    const [line] = await peer.waitFor(/listening on \S+:(\d+)/);
    port = Number(/:(\d+)/.exec(line)![1]);
    // paired before the flood: from 127.0.0.1, which the peer then knows as a host's address
    pairHostWithPeer(peerDir, hostDir);
  }, 60_000);

  afterAll(async () => {
    for (const flood of floods) flood.end();
    await serve?.cli.stop();
    await peer?.stop();
  });

  it('keeps its file descriptors bounded, closes the flood within the deadline, and the paired host still connects and streams', async () => {
    const pid = peer.child.pid!;
    const baseline = openFds(pid);
    let maxFds = baseline;
    const sampler = setInterval(() => (maxFds = Math.max(maxFds, openFds(pid))), 50);

    // 1. 300 TCP connections that never start a TLS handshake, from ten addresses
    const idle = new Flood();
    floods.push(idle);
    for (let i = 0; i < 300; i += 1) idle.track(tcpConnect({ host: '127.0.0.1', port, localAddress: from(2 + (i % 10)) }));
    const idleStarted = Date.now();

    // 2. 150 TLS connections without a client certificate, and 3. 60 pairing attempts with wrong tokens
    const stranger: SelfSignedIdentity = await createSelfSignedIdentity({ commonName: 'stranger' });
    const tls = new Flood();
    floods.push(tls);
    const pairingAnswers: string[] = [];
    const tlsClient = (n: number, identity?: SelfSignedIdentity): TLSSocket =>
      tls.track(tlsConnect({ socket: tcpConnect({ host: '127.0.0.1', port, localAddress: from(n) }), rejectUnauthorized: false, key: identity?.keyPem, cert: identity?.certPem, minVersion: 'TLSv1.3' }));
    for (let i = 0; i < 150; i += 1) tlsClient(20 + (i % 5));
    for (let i = 0; i < 60; i += 1) {
      const socket = tlsClient(30 + (i % 4), stranger);
      socket.once('secureConnect', () => socket.write(`${JSON.stringify({ type: 'pair', token: `wrong-token-${i}-${'x'.repeat(20)}`, name: 'intruder' })}\n`));
      socket.on('data', (chunk: Buffer) => pairingAnswers.push(chunk.toString()));
    }

    // meanwhile the paired host comes online and streams
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: join(root, 'host-state') });
    const { ws, call } = await openApi(serve);
    try {
      await until('the peer online at the host', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online, 20_000);
      await call('sharing.set', { sharing: true });
      const started = (await call('sessions.start', { peer: 'cloudbox', width: 640, height: 360, fps: 30, source: { kind: 'test' } })) as { id: string };
      await until('frames decoded at the peer', async () => {
        const session = ((await call('sessions.list', {})) as Array<{ id: string; framesDecoded: number }>).find((s) => s.id === started.id);
        return (session?.framesDecoded ?? 0) > 60;
      }, 20_000);
      await call('sessions.stop', { id: started.id });

      // every idle connection is closed by the peer within its deadline (10 s not yet paired; TLS handshake 5 s)
      await until('the idle flood closed by the peer', () => idle.closed === 300, 15_000);
      expect(Date.now() - idleStarted).toBeLessThan(15_000);
      await until('the TLS flood closed by the peer', () => tls.closed === 210, 15_000);

      // 4. once the flood has gone: wrong tokens are answered, then refused without a look at the token store
      const guesses = new Flood();
      floods.push(guesses);
      for (let i = 0; i < 12; i += 1) {
        const socket = guesses.track(tlsConnect({ socket: tcpConnect({ host: '127.0.0.1', port, localAddress: from(40) }), rejectUnauthorized: false, key: stranger.keyPem, cert: stranger.certPem, minVersion: 'TLSv1.3' }));
        socket.once('secureConnect', () => socket.write(`${JSON.stringify({ type: 'pair', token: `guess-${i}-${'y'.repeat(20)}`, name: 'intruder' })}\n`));
        socket.on('data', (chunk: Buffer) => pairingAnswers.push(chunk.toString()));
        await new Promise((resolve) => socket.once('close', resolve));
      }
    } finally {
      clearInterval(sampler);
      ws.close();
    }
    const idleClosedMs = Date.now() - idleStarted;
    const audit = readFileSync(join(peerDir, 'audit.jsonl'), 'utf8').trim().split('\n');
    const refusedLines = peer.output().split('\n').filter((line) => line.includes('"event":"refused"'));
    console.log(`flood of 300 idle TCP, 150 certificate-less TLS, 60 + 12 wrong-token pairings: peer descriptors ${baseline} → at most ${maxFds}; all closed within ${idleClosedMs} ms; audit ${audit.length} lines, ${refusedLines.length} refusal log lines`);
    // what strangers could hold: 64 connections not yet paired, plus the sessions and the process's own
    expect(maxFds - baseline, `open descriptors went from ${baseline} to ${maxFds}`).toBeLessThan(100);
    // wrong tokens: refused, then refused without even a look at the token store
    const answers = pairingAnswers.join('');
    expect(answers).toMatch(/"code":"REFUSED"/);
    expect(answers).toMatch(/"code":"RATE_LIMITED"/);
    // the audit log and the log lines do not grow with the flood: refusals are aggregated
    expect(audit.length, audit.slice(-5).join('\n')).toBeLessThan(60);
    expect(audit.some((line) => /"result":"refused"/.test(line))).toBe(true);
    expect(refusedLines.length).toBeLessThan(60);
  }, 90_000);

  it('survives a fuzzed control channel from a paired host: malformed, oversized and out-of-order messages get errors, no crash', async () => {
    const identity: SelfSignedIdentity = {
      keyPem: readFileSync(join(hostDir, 'key.pem'), 'utf8'),
      certPem: readFileSync(join(hostDir, 'cert.pem'), 'utf8'),
      fingerprint: certificateFingerprint(readFileSync(join(hostDir, 'cert.pem'), 'utf8')),
    };
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, key: identity.keyPem, cert: identity.certPem, minVersion: 'TLSv1.3' });
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const lines = [
      '{"type":"hello","name":"fuzzer"}',
      '{', 'null', '[]', '42', '"text"', '{"type":"nope"}', '{"type":"ping"}', '{"type":"ping","id":-1,"t0":0}',
      '{"type":"stream.ready","streamId":"00000000-0000-0000-0000-000000000000","port":1}',
      '{"type":"stream.close","streamId":"00000000-0000-0000-0000-000000000000","reason":"never opened"}',
      '{"type":"stream.open","streamId":"00000000-0000-0000-0000-000000000001","transport":"rtp","latencyMs":0,"width":640,"height":360,"fps":30,"codec":"h264"}',
      '{"type":"stream.open","streamId":"00000000-0000-0000-0000-000000000002","transport":"srt","latencyMs":0,"width":640,"height":360,"fps":30,"codec":"h264"}',
      '{"type":"pong","id":1,"t0":1,"t1":2,"t2":3}',
      `{"type":"hello","name":"${'n'.repeat(100_000)}"}`,
      '\u0000\u0001\u0002',
      '{"type":"ping","id":1,"t0":1}',
    ];
    for (const line of lines) socket.write(`${line}\n`);
    await until('answers to the fuzz', () => received.includes('"type":"pong"') && (received.match(/"type":"error"/g) ?? []).length >= 7, 10_000);
    expect(received).toMatch(/"type":"welcome"/);
    // the opens without their keys or passphrase are refused by the contract (one shape per transport), not a crash
    expect(received).toMatch(/malformed message of type stream\.open/);
    expect(received).not.toMatch(/"type":"stream.ready"/);
    expect(closed).toBe(false);
    socket.destroy();
    await sleep(200);
    expect(peer.child.exitCode).toBeNull();
    expect(peer.child.signalCode).toBeNull();
  }, 30_000);
});
