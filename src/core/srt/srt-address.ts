import { isIP } from 'node:net';

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * The struct sockaddr_in or sockaddr_in6 (Linux layout) libsrt's bind and connect take, for an IP
 * address: an IPv6 one with its zone as a number (`fe80::1%2`); a named zone (`%eth0`) is refused, as
 * libsrt cannot look a name up here.
 */
export function socketAddress(host: string, port: number): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port ${port}`);
  const family = isIP(host);
  if (family === 4) {
    const address = Buffer.alloc(16);
    address.writeUInt16LE(AF_INET, 0);
    address.writeUInt16BE(port, 2);
    host.split('.').forEach((part, index) => (address[4 + index] = Number(part)));
    return address;
  }
  if (family === 6) {
    const [text, zone] = host.split('%') as [string, string | undefined];
    if (zone !== undefined && !/^\d{1,9}$/.test(zone)) throw new Error(`an IPv6 zone must be an interface number here, got %${zone.slice(0, 30)}`);
    const address = Buffer.alloc(28);
    address.writeUInt16LE(AF_INET6, 0);
    address.writeUInt16BE(port, 2);
    ipv6Bytes(text).copy(address, 8);
    address.writeUInt32LE(zone === undefined ? 0 : Number(zone), 24);
    return address;
  }
  throw new Error(`libsrt takes an IP address, got "${host.slice(0, 60)}"`);
}

/** The 16 bytes of an IPv6 address in text (as node:net's isIP accepts it, without a zone). */
export function ipv6Bytes(text: string): Buffer {
  const bytes = Buffer.alloc(16);
  const halves = text.split('::');
  if (halves.length > 2 || isIP(text) !== 6) throw new Error(`not an IPv6 address: "${text.slice(0, 60)}"`);
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        // an IPv4 tail (::ffff:192.0.2.1): two groups
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(piece, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  all.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}
