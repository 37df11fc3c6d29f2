/**
 * Datagrams to a connected dgram socket, sent in batches: what is queued in one turn of the event loop
 * (a frame's packets and its FEC) leaves in one sendmmsg(2) call through koffi, instead of one libuv
 * send (and one system call) per datagram. Where that cannot work (no koffi, no sendmmsg, no file
 * descriptor to be had from the socket, GPU_BRIDGE_UDP_BATCH=off) each datagram goes through
 * socket.send as before, and `why` says why. Order is kept: while libuv still holds datagrams of ours
 * (a batch the kernel took only part of), the rest follow them through libuv.
 */
import type { Socket } from 'node:dgram';
import { createRequire } from 'node:module';

/** Bytes of the arena the queued datagrams are copied into (the kernel reads them from there). */
const ARENA_BYTES = 1 << 20;
const MAX_BATCH = 1024;
/** struct iovec and struct mmsghdr on x86-64 and aarch64 Linux (LP64). */
const IOVEC_BYTES = 16;
const MMSGHDR_BYTES = 64;
const MSG_IOV_AT = 16;
const MSG_IOVLEN_AT = 24;
const MSG_DONTWAIT = 0x40;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

interface Libc {
  sendmmsg: Native;
  /** The address of a buffer's memory (memcpy of nothing returns its destination); below 2^53 on these machines. */
  addressOf(buffer: Uint8Array): number;
}

let libc: Libc | string | undefined;

function loadLibc(): Libc | string {
  if (libc !== undefined) return libc;
  if (process.env.GPU_BRIDGE_UDP_BATCH === 'off') return (libc = 'GPU_BRIDGE_UDP_BATCH=off');
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return (libc = `sendmmsg batching is for 64-bit Linux (this is ${process.platform}-${process.arch})`);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string | null): { func(signature: string): Native }; address(pointer: unknown): bigint };
    const lib = koffi.load(null);
    const memcpy = lib.func('void *memcpy(void *dst, void *src, size_t n)');
    libc = {
      sendmmsg: lib.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)'),
      addressOf: (buffer) => Number(koffi.address(memcpy(buffer, buffer, 0))),
    };
  } catch (error) {
    libc = `koffi or sendmmsg is not loadable (${error instanceof Error ? error.message : String(error)})`;
  }
  return libc;
}

/** The socket's file descriptor, from Node's internal state (there is no public way); null where that is not there. */
function socketFd(socket: Socket): number | null {
  const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  const handle = state ? (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle : undefined;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

export interface UdpBatchCounters {
  /** sendmmsg calls, and the datagrams they sent. */
  batches: number;
  batched: number;
  /** Datagrams sent one by one through socket.send (no batching here, or the kernel's buffer was full). */
  single: number;
}

export class UdpBatchSender {
  readonly counters: UdpBatchCounters = { batches: 0, batched: 0, single: 0 };
  /** Why datagrams go one by one, null while batching works (or until the socket is bound). */
  why: string | null = null;
  private fd: number | null = null;
  private readonly libc: Libc | null;
  private arena: Buffer | null = null;
  private vectors: Buffer | null = null;
  private headers: Buffer | null = null;
  private arenaAddress = 0;
  /** Where each queued datagram lies in the arena, and how long it is. */
  private readonly offsets = new Int32Array(MAX_BATCH);
  private readonly lengths = new Int32Array(MAX_BATCH);
  private used = 0;
  private count = 0;
  private scheduled = false;
  private closed = false;

  /** `socket` must be connected before the first flush. */
  constructor(private readonly socket: Socket) {
    const loaded = loadLibc();
    this.libc = typeof loaded === 'string' ? null : loaded;
    if (typeof loaded === 'string') this.why = loaded;
  }

  /** Queues a datagram; it leaves at the end of this turn of the event loop, or at `flush`. */
  send(packet: Uint8Array): void {
    if (this.closed) return;
    if (!this.ready() || packet.length > ARENA_BYTES) {
      this.flush();
      this.single(packet);
      return;
    }
    if (this.count === MAX_BATCH || this.used + packet.length > ARENA_BYTES) this.flush();
    const arena = this.arena!;
    const vectors = this.vectors!;
    arena.set(packet, this.used);
    const iov = this.count * IOVEC_BYTES;
    // 64-bit little-endian address and length, in 32-bit halves (no BigInt per datagram)
    const address = this.arenaAddress + this.used;
    vectors.writeUInt32LE(address % 0x1_0000_0000, iov);
    vectors.writeUInt32LE(Math.floor(address / 0x1_0000_0000), iov + 4);
    vectors.writeUInt32LE(packet.length, iov + 8);
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = packet.length;
    this.used += packet.length;
    this.count += 1;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is queued now. */
  flush(): void {
    this.scheduled = false;
    if (this.count === 0) return;
    const count = this.count;
    let sent = 0;
    // datagrams of ours still in libuv's queue go first: the batch follows them there
    if (this.socket.getSendQueueCount() === 0) {
      const result = this.libc!.sendmmsg(this.fd!, this.headers!, count, MSG_DONTWAIT) as number;
      sent = Math.max(0, result);
      if (sent > 0) {
        this.counters.batches += 1;
        this.counters.batched += sent;
      }
    }
    for (let index = sent; index < count; index += 1) {
      const at = this.offsets[index]!;
      const length = this.lengths[index]!;
      // a copy: the arena is written over by the next batch while libuv may still hold this one
      this.single(Buffer.from(this.arena!.subarray(at, at + length)));
    }
    this.used = 0;
    this.count = 0;
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Batching is set up (the socket has its descriptor), or `why` says why not. */
  private ready(): boolean {
    if (this.arena) return true;
    if (!this.libc || this.why) return false;
    this.fd = socketFd(this.socket);
    // not yet bound (there is no descriptor before), or Node keeps it elsewhere now
    if (this.fd === null) return false;
    this.arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
    // outside V8's heap (allocUnsafeSlow), where memory never moves: the kernel gets their addresses
    this.vectors = Buffer.allocUnsafeSlow(MAX_BATCH * IOVEC_BYTES).fill(0);
    this.headers = Buffer.allocUnsafeSlow(MAX_BATCH * MMSGHDR_BYTES).fill(0);
    this.arenaAddress = this.libc.addressOf(this.arena);
    const vectorsAddress = this.libc.addressOf(this.vectors);
    // each header points at its own iovec, one datagram each; no address (the socket is connected)
    for (let index = 0; index < MAX_BATCH; index += 1) {
      this.headers.writeBigUInt64LE(BigInt(vectorsAddress + index * IOVEC_BYTES), index * MMSGHDR_BYTES + MSG_IOV_AT);
      this.headers.writeBigUInt64LE(1n, index * MMSGHDR_BYTES + MSG_IOVLEN_AT);
    }
    return true;
  }

  private single(packet: Uint8Array): void {
    this.counters.single += 1;
    this.socket.send(packet);
  }
}
