import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { resolveUnderRoot } from '../core/security/safe-path';
import { SECURITY_HEADERS } from './content-security';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Serves one file of the built renderer; unknown paths fall back to index.html (client-side routes). */
export async function serveStatic(root: string, urlPath: string, response: ServerResponse, extraHeaders: Record<string, string> = {}): Promise<void> {
  const target = resolveUnderRoot(root, urlPath);
  if (target === null) {
    response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    response.end('bad path\n');
    return;
  }
  let file = target;
  let info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    if (extname(urlPath) !== '') {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      response.end('not found\n');
      return;
    }
    file = resolveUnderRoot(root, '/index.html')!;
    info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      response.end('The user interface is not built. Run `npm run build` in the project folder, then reload.\n');
      return;
    }
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  const immutable = file.includes('/assets/');
  response.writeHead(200, {
    'Content-Type': type,
    'Content-Length': String(info.size),
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-store',
    ...SECURITY_HEADERS,
    ...extraHeaders,
  });
  createReadStream(file).pipe(response);
}
