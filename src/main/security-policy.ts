// The pure half of the security module: no electron import, so it is unit-tested in plain Node.

export const APP_SCHEME = 'app';
export const APP_HOST = 'gpu-bridge';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** Hosts `shell.openExternal` may open, https only. */
export const EXTERNAL_ALLOWLIST = ['github.com', 'docs.nvidia.com', 'developer.nvidia.com', 'wiki.archlinux.org', 'www.kernel.org'];

export function isAllowedExternalUrl(raw: string, allowlist: readonly string[] = EXTERNAL_ALLOWLIST): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '') return false;
  return allowlist.includes(url.hostname.toLowerCase());
}

/** Only the app's own pages may be shown in its windows. */
export function isAppUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
  } catch {
    return false;
  }
}

export interface SenderFacts {
  /** URL of the frame that sent the IPC message. */
  frameUrl: string | null | undefined;
  /** Whether that frame is the window's top frame (not an iframe). */
  isTopFrame: boolean;
}

/** IPC is accepted only from the top frame of a page served by our app protocol. */
export function isTrustedSender(facts: SenderFacts): boolean {
  return facts.isTopFrame && typeof facts.frameUrl === 'string' && isAppUrl(facts.frameUrl);
}

/** The CSP set on every response of the app protocol (no inline script, no eval, nothing remote). */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
