import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { app, protocol, session, shell, type IpcMainEvent, type WebContents } from 'electron';
import { resolveUnderRoot } from '../core/security/safe-path';
import { APP_CSP, APP_HOST, APP_SCHEME, isAllowedExternalUrl, isAppUrl, isTrustedSender } from './security-policy';

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Must run before the app is ready: the app scheme is a secure, standard origin. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** The one place where the Electron shell's security decisions are made (Element Desktop style). */
export function installSecurity(rendererDir: string): void {
  app.enableSandbox();

  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST) return new Response('not found', { status: 404 });
    const file = resolveUnderRoot(rendererDir, url.pathname);
    if (file === null) return new Response('bad path', { status: 400 });
    try {
      const body = await readFile(file);
      return new Response(body, { headers: { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': APP_CSP } });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });

  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] } });
  });

  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
}

function hardenContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternalUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
}

/** IPC messages are honoured only from the top frame of our own origin. */
export function isTrustedIpcEvent(event: IpcMainEvent): boolean {
  const frame = event.senderFrame;
  return isTrustedSender({ frameUrl: frame?.url, isTopFrame: frame !== null && frame !== undefined && frame.parent === null });
}
