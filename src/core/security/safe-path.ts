import { isAbsolute, normalize, relative, resolve } from 'node:path';

/**
 * Maps a URL path onto a file under `root`, or null when it would escape it (`..`, encoded `%2e%2e`,
 * backslashes, NUL, absolute paths). Used by the web shell's static files and Electron's app protocol.
 */
export function resolveUnderRoot(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const cleaned = decoded.split('?')[0]!.split('#')[0]!;
  // Any `..` segment is refused outright (normalize() would silently clamp `/../x` to `/x`).
  if (cleaned.split('/').includes('..')) return null;
  const relativePath = normalize(cleaned).replace(/^[/]+/, '');
  const absoluteRoot = resolve(root);
  const target = resolve(absoluteRoot, relativePath === '' ? 'index.html' : relativePath);
  const rel = relative(absoluteRoot, target);
  if (rel.startsWith('..') || isAbsolute(rel)) return null;
  return target;
}
