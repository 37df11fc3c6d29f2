import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core/core';
import { AddressGate, closeIfSilent, Slots, WEB_SERVER_LIMITS, type WebServerLimits } from './connection-limits';
import { SECURITY_HEADERS } from './content-security';
import { hostAllowed, originAllowed, presentedToken, presentedViewToken, TOKEN_COOKIE, tokenMatches, VIEW_COOKIE } from './auth';
import { guestMessageAllowed } from './guest';
import { serveStatic } from './static-files';
import { MAX_MESSAGE_BYTES } from '../shared/protocol';

/** Extra HTTP routes other services add (e.g. `/metrics`). They run after the token check. */
export type HttpRoute = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<void> | void;

export interface WebServerOptions {
  core: Core;
  rendererDir: string;
  host?: string;
  port?: number;
  /** Required for any host that is not loopback: TLS 1.3 only. */
  tls?: { keyPem: string; certPem: string };
  token?: string;
  routes?: Record<string, HttpRoute>;
  /** Frames beyond this are cut by the socket layer; up to it the dispatcher answers MESSAGE_TOO_LARGE. */
  maxFrameBytes?: number;
  /** What one client may hold (defaults: WEB_SERVER_LIMITS). */
  limits?: Partial<WebServerLimits>;
}

export interface WebServer {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Base URL, e.g. http://127.0.0.1:8765 */
  readonly origin: string;
  /** The URL to open: origin plus `/?token=…`. */
  readonly url: string;
  /** Connections closed for their address being over its cap, and view-link requests answered 503 for too many at once. */
  refusals(): { overAddressCap: number; viewChecksBusy: number };
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\./.test(host);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const BUSY = Symbol('busy');
const VIEW_CHECKS_BUSY = 'Too many view links are being checked right now; try again in a moment.';

function refuse(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
  response.end(`${message}\n`);
}

/** The headless shell: the built renderer over HTTP(S) and the same contract over a WebSocket at /ws. */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.tls) {
    throw new Error(`refusing to listen on ${host} without TLS: only loopback may be served in the clear`);
  }
  const token = options.token ?? randomBytes(24).toString('base64url');
  const scheme = options.tls ? 'https' : 'http';
  const { core } = options;
  const routes = options.routes ?? {};
  const sockets = new Set<Socket>();
  const limits = { ...WEB_SERVER_LIMITS, ...options.limits };
  const addressGate = new AddressGate(limits.maxPerAddress);
  const viewChecks = new Slots(limits.maxPendingViewChecks);
  let allowedHosts: string[] = [];
  // Loopback is plain HTTP, so the Host header is checked against DNS rebinding. Beyond loopback the
  // TLS certificate already binds the name, and users reach the host by whatever address they have.
  const hostOk = (value: string | undefined) => value !== undefined && (!isLoopback(host) || hostAllowed(value, allowedHosts));

  /** Runs a view-link check in one of the few slots, or answers BUSY at once when all are taken. */
  const underViewCheck = async <T>(check: () => Promise<T>): Promise<T | typeof BUSY> => {
    const release = viewChecks.enter();
    if (!release) return BUSY;
    try {
      return await check();
    } finally {
      release();
    }
  };

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    handleRequest(request, response).catch((error: unknown) => {
      if (!response.headersSent) refuse(response, 500, `internal error: ${(error as Error).message}`);
      else response.destroy();
    });
  };

  const handleRequest = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!hostOk(request.headers.host)) {
      refuse(response, 421, 'unexpected Host header: open the URL gpu-bridge printed');
      return;
    }
    const url = new URL(request.url ?? '/', `${scheme}://${request.headers.host}`);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      refuse(response, 405, 'only GET is served here; the API is on the WebSocket at /ws');
      return;
    }
    if (!tokenMatches(presentedToken(request, url), token)) {
      // a view link's browser gets the page (nothing else): the link itself is used when its WebSocket opens
      const view = presentedViewToken(request, url);
      const links = core.webrtc.links;
      const checked = view === null || !links ? false : await underViewCheck(() => links.valid(view, url.searchParams.has('view') ? (request.socket.remoteAddress ?? 'unknown') : undefined));
      if (checked === BUSY) {
        refuse(response, 503, VIEW_CHECKS_BUSY);
        return;
      }
      if (checked) {
        const viewCookie: Record<string, string> = url.searchParams.has('view') ? { 'Set-Cookie': `${VIEW_COOKIE}=${view}; Path=/; HttpOnly; SameSite=Strict${options.tls ? '; Secure' : ''}` } : {};
        await serveStatic(options.rendererDir, url.pathname, response, viewCookie);
        return;
      }
      if (view !== null) {
        refuse(response, 403, 'This view link is no longer valid: it was used already, has expired, or was revoked. Ask the owner for a new one.');
        return;
      }
      refuse(response, 401, 'GPU Bridge needs its access token: open the URL that `gpu-bridge serve` printed (it ends in ?token=…).');
      return;
    }
    const route = routes[url.pathname];
    if (route) {
      await route(request, response, url);
      return;
    }
    const cookie: Record<string, string> = url.searchParams.has('token')
      ? { 'Set-Cookie': `${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict${options.tls ? '; Secure' : ''}` }
      : {};
    await serveStatic(options.rendererDir, url.pathname, response, cookie);
  };

  // the timeouts are checked each second (Node's default is every 30 s)
  const timing = { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) };
  const server = options.tls
    ? createHttpsServer({ key: options.tls.keyPem, cert: options.tls.certPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', handshakeTimeout: limits.headersTimeoutMs, ...timing }, onRequest)
    : createHttpServer(timing, onRequest);
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    if (!addressGate.admit(socket)) return;
    closeIfSilent(socket, limits.headersTimeoutMs);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (_error, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? 16 * MAX_MESSAGE_BYTES });

  server.on('upgrade', (request: IncomingMessage, socket, head) => {
    const deny = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${text}\n`);
    };
    const url = new URL(request.url ?? '/', `${scheme}://${request.headers.host ?? 'invalid'}`);
    if (url.pathname !== '/ws') return deny(404, 'Not Found');
    if (!hostOk(request.headers.host)) return deny(421, 'Misdirected Request');
    // Our own page's origin is the Host it was loaded from; anything else is a foreign site.
    if (!originAllowed(request.headers.origin, [`${scheme}://${(request.headers.host ?? '').toLowerCase()}`])) return deny(403, 'Forbidden');
    if (tokenMatches(presentedToken(request, url), token)) {
      wss.handleUpgrade(request, socket, head, (ws) => attach(ws, randomUUID(), false));
      return;
    }
    // a view link: used up now (it works once), or refused (audited either way)
    const view = presentedViewToken(request, url);
    if (view === null || !core.webrtc.links) return deny(401, 'Unauthorized');
    const clientId = randomUUID();
    let cut: (reason: string) => void = () => undefined;
    void underViewCheck(() => core.webrtc.guestConnected(clientId, view, request.socket.remoteAddress ?? 'unknown', (reason) => cut(reason))).then((redeemed) => {
      if (redeemed === BUSY) return deny(503, 'Service Unavailable');
      if (!redeemed.ok) return deny(403, 'Forbidden');
      wss.handleUpgrade(request, socket, head, (ws) => {
        cut = (reason) => ws.close(4003, reason.slice(0, 120));
        attach(ws, clientId, true);
      });
    });
  });

  const attach = (ws: WebSocket, clientId: string, guest: boolean): void => {
    const released = core.clientConnected(clientId);
    const send = (message: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    // a view link's browser hears no events: they tell about the whole host
    const unsubscribe = guest
      ? () => undefined
      : core.events.subscribe((message) => {
          // A client that cannot keep up loses events (never requests' replies) rather than growing memory.
          if (ws.bufferedAmount < 8 * MAX_MESSAGE_BYTES) send(message);
        });
    ws.on('message', (data, isBinary) => {
      const raw = isBinary ? (data as Buffer) : data.toString();
      const refusal = guest ? guestMessageAllowed(raw) : null;
      if (refusal) return send(refusal);
      void core.dispatcher.handleRaw(raw as string | Buffer, { shell: 'web', clientId }).then(send);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      unsubscribe();
      released();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8765, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const port = address.port;
  const hostNames = new Set([formatHost(host)]);
  if (isLoopback(host)) ['127.0.0.1', 'localhost', '[::1]'].forEach((name) => hostNames.add(name));
  allowedHosts = [...hostNames].map((name) => `${name}:${port}`.toLowerCase());
  const origin = `${scheme}://${formatHost(host)}:${port}`;

  return {
    host,
    port,
    token,
    origin,
    url: `${origin}/?token=${token}`,
    refusals: () => ({ overAddressCap: addressGate.refused, viewChecksBusy: viewChecks.refused }),
    async close() {
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 500).unref();
      });
    },
  };
}
