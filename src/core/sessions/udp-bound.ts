import { readFile } from 'node:fs/promises';

/** True when some socket is bound to UDP `port` (IPv4 or IPv6), from /proc/net/udp{,6}. */
export async function udpPortBound(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local?.endsWith(hex)) return true;
    }
  }
  return false;
}

/** Waits until `port` is bound or `timeoutMs` passes; true when bound. */
export async function waitUdpBound(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    if (await udpPortBound(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}
