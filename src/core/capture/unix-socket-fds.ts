/**
 * What Node cannot do on a Unix socket, through libc (koffi): connect one whose descriptor we keep, pass
 * a file descriptor over it (SCM_RIGHTS), and make an anonymous in-memory file to pass (memfd_create).
 * The Wayland virtual keyboard needs this: its keymap travels as a file descriptor.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** struct sockaddr_un: sa_family_t then 108 bytes of path. */
const SUN_PATH_BYTES = 108;
/** struct msghdr, struct iovec and struct cmsghdr on x86-64 and aarch64 Linux (LP64). */
const MSGHDR_BYTES = 56;
const CMSG_HEADER_BYTES = 16;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

interface Libc {
  socket: Native;
  connect: Native;
  sendmsg: Native;
  memfdCreate: Native;
  close: Native;
  errno(): number;
  addressOf(buffer: Uint8Array): bigint;
}

let libc: Libc | string | undefined;

function loadLibc(): Libc {
  if (libc === undefined) {
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) libc = `passing file descriptors is built for 64-bit Linux (this is ${process.platform}-${process.arch})`;
    else {
      try {
        const koffi = createRequire(import.meta.url)('koffi') as { load(path: string | null): { func(signature: string): Native }; address(pointer: unknown): bigint; errno(): number };
        const lib = koffi.load(null);
        const memcpy = lib.func('void *memcpy(void *dst, void *src, size_t n)');
        libc = {
          socket: lib.func('int socket(int domain, int type, int protocol)'),
          connect: lib.func('int connect(int fd, void *addr, uint32_t len)'),
          sendmsg: lib.func('intptr_t sendmsg(int fd, void *msg, int flags)'),
          memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
          close: lib.func('int close(int fd)'),
          errno: () => koffi.errno(),
          addressOf: (buffer) => koffi.address(memcpy(buffer, buffer, 0)),
        };
      } catch (error) {
        libc = `koffi or libc is not loadable (${error instanceof Error ? error.message : String(error)})`;
      }
    }
  }
  if (typeof libc === 'string') throw new Error(libc);
  return libc;
}

/** A connected Unix stream socket's descriptor (the caller owns it); throws with the errno when it cannot connect. */
export function connectUnixSocket(path: string): number {
  const c = loadLibc();
  const address = Buffer.alloc(2 + SUN_PATH_BYTES);
  const pathBytes = Buffer.from(path);
  if (pathBytes.length >= SUN_PATH_BYTES) throw new Error(`the socket path ${path} is too long`);
  address.writeUInt16LE(AF_UNIX, 0);
  pathBytes.copy(address, 2);
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw new Error(`cannot make a Unix socket (errno ${c.errno()})`);
  if ((c.connect(fd, address, 2 + pathBytes.length + 1) as number) !== 0) {
    const errno = c.errno();
    c.close(fd);
    throw new Error(errno === 2 ? 'no such socket' : errno === 111 ? 'nothing listens there' : errno === 13 ? 'permission denied' : `connect failed (errno ${errno})`);
  }
  return fd;
}

/** An anonymous in-memory file holding `bytes`, its offset at 0; the caller closes it. */
export function memoryFile(name: string, bytes: Uint8Array): number {
  const c = loadLibc();
  const fd = c.memfdCreate(name, MFD_CLOEXEC) as number;
  if (fd < 0) throw new Error(`memfd_create failed (errno ${c.errno()})`);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
  } catch (error) {
    c.close(fd);
    throw error;
  }
  return fd;
}

/**
 * Sends `bytes` on the socket `fd`, with `passFd` attached (SCM_RIGHTS) unless null, without blocking;
 * throws when the kernel takes less than all of it (the other end is not reading): a message cut there
 * could not be resumed in order with the next one.
 */
export function sendOnSocket(fd: number, bytes: Buffer, passFd: number | null): void {
  const c = loadLibc();
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(c.addressOf(bytes), 0);
  iov.writeBigUInt64LE(BigInt(bytes.length), 8);
  const header = Buffer.alloc(MSGHDR_BYTES);
  header.writeBigUInt64LE(c.addressOf(iov), 16);
  header.writeBigUInt64LE(1n, 24);
  // CMSG_SPACE(sizeof(int)): the header, the descriptor, padding to 8
  const control = Buffer.alloc(CMSG_HEADER_BYTES + 8);
  if (passFd !== null) {
    control.writeBigUInt64LE(BigInt(CMSG_HEADER_BYTES + 4), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(passFd, 16);
    header.writeBigUInt64LE(c.addressOf(control), 32);
    header.writeBigUInt64LE(BigInt(control.length), 40);
  }
  const sent = Number(c.sendmsg(fd, header, MSG_DONTWAIT | MSG_NOSIGNAL));
  if (sent !== bytes.length) throw new Error(sent < 0 ? `sendmsg failed (errno ${c.errno()})` : `sendmsg took ${sent} of ${bytes.length} bytes`);
}

export function closeFd(fd: number): void {
  loadLibc().close(fd);
}
