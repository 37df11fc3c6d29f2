import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { certificateFingerprint, createSelfSignedIdentity, type SelfSignedIdentity } from '../../src/core/crypto/self-signed';

const CLI = 'out/cli/index.mjs';

interface Proc {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function start(args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn('node', [CLI, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  const lines: string[] = [];
  let pending = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onChunk = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let newline;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onChunk);
  child.stderr!.on('data', onChunk);
  return {
    child,
    lines,
    waitFor(pattern, timeoutMs = 15_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${lines.join('\n')}`)), timeoutMs);
        waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
  };
}

function stop(proc: Proc | null): Promise<void> {
  if (!proc || proc.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.child.once('exit', () => resolve());
    proc.child.kill('SIGTERM');
  });
}

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('node', [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

async function startPeer(dir: string, port = 0): Promise<{ proc: Proc; port: number }> {
  const proc = start(['peer', 'run', '--port', String(port), '--listen', '127.0.0.1', '--config-dir', dir, '--json', '--name', 'cloudbox']);
  const line = await proc.waitFor(/^listening on /);
  return { proc, port: Number(/:(\d+)$/.exec(line)![1]) };
}

function newUri(peerDir: string, extra: string[] = []): string {
  const result = cli(['peer', 'pair', '--json', '--config-dir', peerDir, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { uri: string }).uri;
}

/** A raw TLS client for the impostor cases; resolves with every line received until the connection closes. */
function rawClient(port: number, options: { identity?: SelfSignedIdentity; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; send?: string[]; waitMs?: number }) {
  return new Promise<{ lines: string[]; closed: boolean; error: string | null; protocol: string | null }>((resolve) => {
    const lines: string[] = [];
    let error: string | null = null;
    let protocol: string | null = null;
    let buffer = '';
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      key: options.identity?.keyPem,
      cert: options.identity?.certPem,
      maxVersion: options.maxVersion ?? 'TLSv1.3',
      minVersion: 'TLSv1.2',
    }, () => {
      protocol = socket.getProtocol();
      for (const line of options.send ?? []) socket.write(line);
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      lines.push(...parts);
    });
    socket.on('error', (e) => (error = e.message));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ lines, closed: false, error, protocol });
    }, options.waitMs ?? 3000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ lines, closed: true, error, protocol });
    });
  });
}

describe('pairing and the control channel (host and peer as separate processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-pairing-'));
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  let peer: { proc: Proc; port: number } | null = null;
  const others: Proc[] = [];

  beforeAll(async () => {
    execFileSync('node', ['scripts/build-cli.mjs'], { stdio: 'ignore' });
    peer = await startPeer(peerDir);
  });

  afterAll(async () => {
    for (const proc of others) await stop(proc);
    await stop(peer?.proc ?? null);
  });

  it('peer pair refuses when peer run is not up', () => {
    const result = cli(['peer', 'pair', '--config-dir', join(root, 'nowhere')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/peer run` is not running/);
  });

  it('pairs, and both stores hold the other side\'s fingerprint (keys 0600)', () => {
    const uri = newUri(peerDir);
    expect(uri).toMatch(/^gpubridge:\/\/pair\?addr=127\.0\.0\.1%3A\d+&fp=[0-9a-f]{64}&token=[A-Za-z0-9_-]{43}$/);
    const result = cli(['pair', uri, '--config-dir', hostDir, '--json', '--name', 'workstation']);
    expect(result.code, result.stderr).toBe(0);
    const hostFp = certificateFingerprint(readFileSync(join(hostDir, 'cert.pem'), 'utf8'));
    const peerFp = certificateFingerprint(readFileSync(join(peerDir, 'cert.pem'), 'utf8'));
    const hostPeers = JSON.parse(readFileSync(join(hostDir, 'peers.json'), 'utf8')) as { parties: Array<{ fingerprint: string; scopes: string[] }> };
    const peerHosts = JSON.parse(readFileSync(join(peerDir, 'hosts.json'), 'utf8')) as { parties: Array<{ fingerprint: string; name: string }> };
    expect(hostPeers.parties.map((p) => p.fingerprint)).toEqual([peerFp]);
    expect(hostPeers.parties[0]!.scopes).toEqual(['view']); // input is off by default
    expect(peerHosts.parties.map((p) => p.fingerprint)).toEqual([hostFp]);
    expect(peerHosts.parties[0]!.name).toBe('workstation');
    for (const file of [join(hostDir, 'key.pem'), join(peerDir, 'key.pem'), join(hostDir, 'peers.json')]) expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a wrong fingerprint as a possible man-in-the-middle (and the token stays unused)', () => {
    const uri = newUri(peerDir);
    const forged = uri.replace(/fp=([0-9a-f]{64})/, (_m, fp: string) => `fp=${fp.startsWith('0') ? '1' : '0'}${fp.slice(1)}`);
    const result = cli(['pair', forged, '--config-dir', join(root, 'host-mitm')]);
    expect(result.code, result.stdout).not.toBe(0);
    expect(result.stderr).toMatch(/man-in-the-middle/);
    const honest = cli(['pair', uri, '--config-dir', join(root, 'host-mitm')]);
    expect(honest.code, `pair with the right fingerprint failed: ${honest.stderr}`).toBe(0);
  });

  it('refuses a reused token', () => {
    const uri = newUri(peerDir);
    expect(cli(['pair', uri, '--config-dir', join(root, 'host-a')]).code).toBe(0);
    const again = cli(['pair', uri, '--config-dir', join(root, 'host-b')]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already used/);
  });

  it('refuses an expired token', async () => {
    const uri = newUri(peerDir, ['--ttl', '1']);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const result = cli(['pair', uri, '--config-dir', join(root, 'host-c')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/expired/);
  });

  it('refuses a forged token', () => {
    const uri = newUri(peerDir).replace(/token=[^&]+/, 'token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const result = cli(['pair', uri, '--config-dir', join(root, 'host-d')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/not valid/);
    expect(existsJson(join(root, 'host-d', 'peers.json'))).toBe(false);
  });

  it('refuses an unpaired client certificate and a client without one', async () => {
    const stranger = await createSelfSignedIdentity({ commonName: 'stranger' });
    const result = await rawClient(peer!.port, { identity: stranger, send: ['{"type":"hello","name":"x"}\n'] });
    expect(result.closed).toBe(true);
    expect(result.lines.some((line) => /"code":"UNAUTHORIZED"/.test(line))).toBe(true);
    const anonymous = await rawClient(peer!.port, { send: ['{"type":"hello","name":"x"}\n'] });
    expect(anonymous.closed).toBe(true);
    expect(anonymous.lines.some((line) => /"code":"UNAUTHORIZED"/.test(line) || /certificate/.test(line))).toBe(true);
  });

  it('refuses a TLS 1.2-only client', async () => {
    const identity = hostIdentity(hostDir);
    const result = await rawClient(peer!.port, { identity, maxVersion: 'TLSv1.2', send: ['{"type":"hello","name":"x"}\n'] });
    expect(result.protocol).toBeNull();
    expect(result.error ?? '').toMatch(/version|protocol/i);
  });

  it('answers malformed and oversized messages with errors, without crashing, and closes a flood', async () => {
    const identity = hostIdentity(hostDir);
    const big = `{"type":"hello","name":"${'x'.repeat(100_000)}"}\n`;
    const result = await rawClient(peer!.port, {
      identity,
      send: ['not json\n', '{"type":"launch-missiles"}\n', '{"type":"ping","id":-1,"t0":"x"}\n', big, '{"type":"ping","id":1,"t0":5}\n'],
      waitMs: 1500,
    });
    const errors = result.lines.filter((line) => line.includes('"type":"error"'));
    expect(errors.map((line) => (JSON.parse(line) as { code: string }).code)).toEqual(['PARSE_ERROR', 'INVALID_REQUEST', 'INVALID_REQUEST', 'MESSAGE_TOO_LARGE']);
    expect(result.lines.some((line) => line.includes('"type":"pong"') && line.includes('"t0":5'))).toBe(true);
    expect(peer!.proc.child.exitCode).toBeNull();
    const flood = await rawClient(peer!.port, { identity, send: [Array.from({ length: 3000 }, (_, id) => `{"type":"ping","id":${id},"t0":1}\n`).join('')], waitMs: 5000 });
    expect(flood.closed).toBe(true);
    expect(flood.lines.some((line) => line.includes('RATE_LIMITED'))).toBe(true);
    expect(peer!.proc.child.exitCode).toBeNull();
  });

  it('holds a channel with RTT and clock offset, and comes back after the peer restarts', async () => {
    const conn = start(['connect', 'cloudbox', '--config-dir', hostDir, '--json']);
    others.push(conn);
    await conn.waitFor(/"event":"online"/);
    await conn.waitFor(/"event":"sample".*"offsetMs":-?\d/);
    const sample = JSON.parse(conn.lines.filter((line) => line.includes('"sample"')).at(-1)!) as { rttMs: number; offsetMs: number };
    console.log(`loopback control channel: RTT ${sample.rttMs.toFixed(3)} ms, clock offset ${sample.offsetMs.toFixed(3)} ms`);
    expect(sample.rttMs).toBeGreaterThanOrEqual(0);
    expect(Math.abs(sample.offsetMs)).toBeLessThan(50); // same clock on loopback
    const port = peer!.port;
    const killedAt = Date.now();
    peer!.proc.child.kill('SIGKILL');
    await conn.waitFor(/"event":"offline"/, 6000);
    console.log(`peer marked offline ${Date.now() - killedAt} ms after it died`);
    peer = await startPeer(peerDir, port);
    const before = conn.lines.filter((line) => line.includes('"online"')).length;
    await conn.waitFor(new RegExp('"event":"online"'), 15_000);
    for (let i = 0; i < 150 && conn.lines.filter((line) => line.includes('"online"')).length <= before; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(conn.lines.filter((line) => line.includes('"online"')).length).toBe(before + 1);
    await stop(conn);
  });

  it('marks a peer that goes silent (no RST, no FIN) offline within 2.5 heartbeats (idle default 10 s; 1 s here)', async () => {
    const conn = start(['connect', 'cloudbox', '--config-dir', hostDir, '--idle-heartbeat-ms', '1000', '--json']);
    others.push(conn);
    await conn.waitFor(/"event":"online"/);
    const frozenAt = Date.now();
    peer!.proc.child.kill('SIGSTOP');
    try {
      await conn.waitFor(/"event":"offline"/, 8000);
      const took = Date.now() - frozenAt;
      console.log(`silent peer marked offline after ${took} ms`);
      expect(took).toBeLessThan(7000);
    } finally {
      peer!.proc.child.kill('SIGCONT');
    }
    await conn.waitFor(/"event":"online"/, 15_000).then(async () => {
      for (let i = 0; i < 150 && conn.lines.filter((line) => line.includes('"online"')).length < 2; i += 1) await new Promise((r) => setTimeout(r, 100));
    });
    expect(conn.lines.filter((line) => line.includes('"online"')).length).toBe(2);
    await stop(conn);
  });

  it('refuses a revoked host, from the peer side and from the host side', async () => {
    const uri = newUri(peerDir);
    const dir = join(root, 'host-revoke');
    expect(cli(['pair', uri, '--config-dir', dir, '--name', 'doomed']).code).toBe(0);
    const conn = start(['connect', 'cloudbox', '--config-dir', dir, '--json']);
    others.push(conn);
    await conn.waitFor(/"event":"online"/);
    expect(cli(['peer', 'revoke', 'doomed', '--config-dir', peerDir]).code).toBe(0);
    await conn.waitFor(/"event":"refused"/, 5000);
    await new Promise((resolve) => conn.child.exitCode !== null ? resolve(null) : conn.child.once('exit', resolve));
    expect(conn.child.exitCode).toBe(3);
    // a new connection with the revoked certificate is refused too
    const again = await rawClient(peer!.port, { identity: hostIdentity(dir), send: ['{"type":"hello","name":"x"}\n'] });
    expect(again.closed).toBe(true);
    expect(again.lines.some((line) => line.includes('revoked'))).toBe(true);
    // host side: revoking the peer on the host makes connect refuse at once
    expect(cli(['pair', 'revoke', 'cloudbox', '--config-dir', join(root, 'host-a')]).code).toBe(0);
    const refused = cli(['connect', 'cloudbox', '--config-dir', join(root, 'host-a')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/revoked/);
    const audit = readFileSync(join(peerDir, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"peer.revoke"/);
    expect(audit).toMatch(/"action":"peer.pair","target":"[^"]*","result":"refused"/);
  });
});

function hostIdentity(dir: string): SelfSignedIdentity {
  const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  return { keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'), certPem, fingerprint: certificateFingerprint(certPem) };
}

function existsJson(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}
