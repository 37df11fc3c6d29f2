// The pure half of the security module: no electron import, so it is unit-tested in plain Node.
import { CONTENT_SECURITY_POLICY } from '../shared/csp';

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

/** The CSP set on every response of the app protocol (shared with the web shell). */
export const APP_CSP = CONTENT_SECURITY_POLICY;
