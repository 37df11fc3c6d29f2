import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startServe, type ServeHandle } from '../helpers/spawn-cli';
import { TestWsClient } from '../helpers/ws-client';

describe('gpu-bridge serve (web shell)', () => {
  let serve: ServeHandle;
  beforeAll(async () => {
    serve = await startServe();
  });
  afterAll(async () => {
    await serve?.cli.stop();
  });

  const wsUrl = (token?: string) => `${serve.origin.replace('http', 'ws')}/ws${token === undefined ? '' : `?token=${token}`}`;

  it('prints a URL with a token and a parseable listening line on loopback', () => {
    expect(serve.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.token.length).toBeGreaterThanOrEqual(24);
  });

  it('answers app.info over the WebSocket with the token', async () => {
    const client = await TestWsClient.open(wsUrl(serve.token));
    const reply = await client.call('app.info');
    expect(reply.result).toMatchObject({ name: 'gpu-bridge', shell: 'web', capabilities: { ffmpeg: expect.any(Boolean) } });
    client.close();
  });

  it('refuses the WebSocket without the token, or with a wrong one', async () => {
    await expect(TestWsClient.open(wsUrl())).rejects.toMatchObject({ status: 401 });
    await expect(TestWsClient.open(wsUrl('wrong-token'))).rejects.toMatchObject({ status: 401 });
  });

  it('refuses a foreign Origin even with the token', async () => {
    await expect(TestWsClient.open(wsUrl(serve.token), { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    const own = await TestWsClient.open(wsUrl(serve.token), { origin: serve.origin });
    own.close();
  });

  it('answers HTTP 401 without the token and serves the UI with it', async () => {
    const without = await fetch(`${serve.origin}/`);
    expect(without.status).toBe(401);
    expect(await without.text()).toMatch(/token/);
    const withToken = await fetch(serve.url);
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(withToken.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(await withToken.text()).toContain('<div id="root">');
  });

  it('exports Prometheus metrics at /metrics with the token as a bearer, and refuses without it', async () => {
    expect((await fetch(`${serve.origin}/metrics`)).status).toBe(401);
    const response = await fetch(`${serve.origin}/metrics`, { headers: { authorization: `Bearer ${serve.token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toContain('# HELP gpu_bridge_gpu_utilization_ratio');
  });

  it('refuses a rebinding Host header', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: serve.port, path: `/?token=${serve.token}`, headers: { host: `evil.example:${serve.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it('keeps the connection through malformed, oversized and unknown messages', async () => {
    const client = await TestWsClient.open(wsUrl(serve.token));
    expect(await client.sendRaw('{not json')).toMatchObject({ id: null, error: { code: 'PARSE_ERROR' } });
    expect(await client.sendRaw('x'.repeat(1024 * 1024 + 10))).toMatchObject({ error: { code: 'MESSAGE_TOO_LARGE' } });
    expect(await client.call('no.such')).toMatchObject({ error: { code: 'UNKNOWN_METHOD' } });
    expect(await client.call('sharing.set', { sharing: 1 })).toMatchObject({ error: { code: 'INVALID_PARAMS' } });
    expect(await client.call('app.ping', { nonce: 'still here' })).toMatchObject({ result: { nonce: 'still here' } });
    client.close();
  });

  it('answers every one of thousands of random messages with an error and stays up (property)', async () => {
    const client = await TestWsClient.open(wsUrl(serve.token));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.json({ maxDepth: 3 }).filter((text) => !/"id"/.test(text)),
          fc.record({ method: fc.string({ maxLength: 40 }), params: fc.anything({ maxDepth: 2 }) }).map((value) => JSON.stringify({ id: `f${value.method.length}`, ...value })),
        ),
        async (text) => {
          n += 1;
          const id = `fuzz-${n}`;
          let payload = text;
          try {
            const parsed: unknown = JSON.parse(text);
            if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && 'method' in parsed) payload = JSON.stringify({ ...parsed, id, method: `x.${String((parsed as { method: unknown }).method)}` });
          } catch {
            // not JSON: sent as it is
          }
          const reply = payload === text ? await client.sendRaw(payload) : await client.sendRaw(payload, id);
          expect(reply).toHaveProperty('error.code');
        },
      ),
      { numRuns: 2000 },
    );
    expect(await client.call('app.ping')).toHaveProperty('result');
    client.close();
  });

  it('stops cleanly on SIGTERM', async () => {
    const other = await startServe();
    const code = await other.cli.stop('SIGTERM');
    expect(code).toBe(0);
    expect(other.cli.output()).toMatch(/received SIGTERM, stopping/);
  });
});

describe('gpu-bridge serve beyond loopback', () => {
  it('serves TLS 1.3 only, printing the certificate fingerprint', async () => {
    const serve = await startServe(['--listen', '0.0.0.0']);
    try {
      expect(serve.origin).toMatch(/^https:/);
      const [, fingerprint] = serve.cli.output().match(/SHA-256 fingerprint ([0-9A-F:]{95})/) ?? [];
      expect(fingerprint).toBeDefined();
      const protocol = await new Promise<string | null>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: serve.port, rejectUnauthorized: false }, () => {
          const cert = socket.getPeerCertificate();
          expect(cert.fingerprint256).toBe(fingerprint);
          resolve(socket.getProtocol());
          socket.end();
        });
        socket.on('error', reject);
      });
      expect(protocol).toBe('TLSv1.3');
      const refused = await new Promise<string>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: serve.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => resolve('connected'));
        socket.on('error', (error) => resolve(error.message));
      });
      expect(refused).not.toBe('connected');
    } finally {
      await serve.cli.stop();
    }
  });

  it('refuses --port out of range with a clear message', async () => {
    const { spawnCli } = await import('../helpers/spawn-cli');
    const cli = spawnCli(['serve', '--port', '70000']);
    expect(await cli.stop('SIGCONT')).toBe(2);
    expect(cli.output()).toMatch(/--port must be an integer from 0 to 65535/);
  });
});
