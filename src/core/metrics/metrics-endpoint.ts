import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the endpoint serves: the sampler's exporter (`core.metrics.exporter`) fits. */
export interface MetricsText {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsEndpointOptions {
  exporter: MetricsText;
  /** 0: any free port (tests). */
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | null;
}

export interface MetricsEndpoint {
  readonly port: number;
  /** `http://127.0.0.1:PORT/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  response.end(`${text}\n`);
}

/**
 * The Prometheus `/metrics` endpoint on its own port, for the desktop app (the web shell mounts the same
 * exporter at its own `/metrics`). Listens on 127.0.0.1 only, never another address. Answers GET/HEAD
 * /metrics and nothing else; the Host header must name this server (a web page that rebinds a DNS name to
 * 127.0.0.1 cannot read it); with a token, `Authorization: Bearer` is required as well.
 */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) throw new Error(`metrics endpoint: invalid port ${options.port}`);
  const token = options.token ?? null;
  let allowedHosts: string[] = [];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (!allowedHosts.includes((request.headers.host ?? '').toLowerCase())) return refuse(response, 421, 'Misdirected Request');
    if (token !== null) {
      const auth = request.headers.authorization ?? '';
      const presented = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : '';
      if (!sameSecret(presented, token)) return refuse(response, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' });
    }
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') return refuse(response, 404, 'Not Found: the only path is /metrics');
    if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(response, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    const body = await options.exporter.render();
    response.writeHead(200, { 'Content-Type': options.exporter.contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    response.end(request.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) refuse(response, 500, 'Internal Server Error');
      else response.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  allowedHosts = [`${HOST}:${port}`, `localhost:${port}`];
  return {
    port,
    url: `http://${HOST}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
