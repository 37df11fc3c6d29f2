import { Fingerprint } from '../../shared/contract/peers';

export interface PairUri {
  addr: string;
  host: string;
  port: number;
  fingerprint: string;
  token: string;
}

export function formatPairUri(addr: string, fingerprint: string, token: string): string {
  return `gpubridge://pair?addr=${encodeURIComponent(addr)}&fp=${fingerprint}&token=${encodeURIComponent(token)}`;
}

/** Parses `gpubridge://pair?addr=HOST:PORT&fp=HEX&token=SECRET`; throws an Error with a clear message. */
export function parsePairUri(text: string): PairUri {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error('not a pairing URI (expected gpubridge://pair?addr=HOST:PORT&fp=…&token=…)');
  }
  if (url.protocol !== 'gpubridge:' || (url.hostname !== 'pair' && url.pathname.replace(/^\/+/, '') !== 'pair')) {
    throw new Error('not a pairing URI (expected gpubridge://pair?…)');
  }
  const addr = url.searchParams.get('addr') ?? '';
  const fp = (url.searchParams.get('fp') ?? '').toLowerCase().replace(/:/g, '');
  const token = url.searchParams.get('token') ?? '';
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(addr);
  if (!match) throw new Error(`pairing URI has a bad addr "${addr}" (expected HOST:PORT)`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new Error(`pairing URI has a bad port ${port}`);
  if (!Fingerprint.safeParse(fp).success) throw new Error('pairing URI has a bad fp (expected a SHA-256 fingerprint, 64 hex digits)');
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) throw new Error('pairing URI has a bad token');
  return { addr, host: match[1]!.replace(/^\[|\]$/g, ''), port, fingerprint: fp, token };
}
