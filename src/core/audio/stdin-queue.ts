import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';

/**
 * The queue in front of a child that reads our stdin, which Node's writableLength does not show: libuv
 * gives a child's stdio a Unix socket pair, whose send buffer (some 100-200 KiB: half a second of sound or more) fills
 * silently when the child reads slower than we write. `shrinkSendBuffer` makes it small, so that a full one
 * shows in writableLength at once; `sendQueued` is what the kernel holds unread (SIOCOUTQ: bytes with its
 * own bookkeeping, some 1.7 KB per write, so an upper bound). Both through libc (koffi); null or false where
 * they cannot be done (not Linux, no descriptor).
 */
const SIOCOUTQ = 0x5411;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

let libc: { ioctl: Native; setsockopt: Native } | null | undefined;

function load(): { ioctl: Native; setsockopt: Native } | null {
  if (libc === undefined) {
    try {
      if (process.platform !== 'linux') throw new Error('not Linux');
      const koffi = createRequire(import.meta.url)('koffi') as { load(path: string | null): { func(signature: string): Native } };
      const lib = koffi.load(null);
      libc = {
        ioctl: lib.func('int ioctl(int fd, unsigned long request, _Out_ int *count)'),
        setsockopt: lib.func('int setsockopt(int fd, int level, int name, const int *value, uint32_t length)'),
      };
    } catch {
      libc = null;
    }
  }
  return libc;
}

function fdOf(stream: Writable): number | null {
  const fd = (stream as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Asks for a send buffer of `bytes` (the kernel doubles it, and keeps a floor of its own). */
export function shrinkSendBuffer(stream: Writable, bytes: number): boolean {
  const fd = fdOf(stream);
  const lib = load();
  return fd !== null && lib !== null && lib.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, [bytes], 4) === 0;
}

export function sendQueued(stream: Writable): number | null {
  const fd = fdOf(stream);
  const lib = load();
  if (fd === null || !lib) return null;
  const count = [0];
  return lib.ioctl(fd, SIOCOUTQ, count) === 0 ? count[0]! : null;
}
