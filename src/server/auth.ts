import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'gpu_bridge_token';
/** A view link's secret, kept for the page's own files after the first load. */
export const VIEW_COOKIE = 'gpu_bridge_view';

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

/** The token a request presents: `?token=`, then `Authorization: Bearer`, then the session cookie. */
export function presentedToken(request: IncomingMessage, url: URL): string | null {
  const query = url.searchParams.get('token');
  if (query) return query;
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  return cookieValue(request.headers.cookie, TOKEN_COOKIE);
}

/** A view link's secret: `?view=`, then its cookie. */
export function presentedViewToken(request: IncomingMessage, url: URL): string | null {
  return url.searchParams.get('view') ?? cookieValue(request.headers.cookie, VIEW_COOKIE);
}

export function tokenMatches(presented: string | null, expected: string): boolean {
  return presented !== null && safeEqual(presented, expected);
}

/**
 * Browsers send Origin on WebSocket upgrades: only our own origin may connect (a page on another site
 * must not drive the host). Non-browser clients send none and are judged by the token alone.
 */
export function originAllowed(origin: string | undefined, allowedOrigins: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowedOrigins.includes(origin.toLowerCase());
}

/** Guards against DNS rebinding: the Host header must name this server. */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (host === undefined) return false;
  return allowedHosts.includes(host.toLowerCase());
}
