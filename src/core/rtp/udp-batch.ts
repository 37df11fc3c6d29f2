/**
 * Datagrams in batches on a dgram socket, through koffi: UdpBatchSender sends what is queued in one turn
 * of the event loop (a frame's packets and its FEC) in one sendmmsg(2) call, instead of one libuv send (and
 * one system call) each; UdpBatchReceiver takes the first datagram of a burst from Node and the rest in
 * recvmmsg(2) calls, without Node's per-datagram callback. Where that cannot work (no koffi, no such
 * calls, no file descriptor to be had from the socket, GPU_BRIDGE_UDP_BATCH=off) datagrams go one by one
 * through Node as before, and `why` says why. Order is kept both ways.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { afterBurst, readBurst } from './burst';

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
  recvmmsg: Native;
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
      recvmmsg: lib.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)'),
      addressOf: (buffer) => Number(koffi.address(memcpy(buffer, buffer, 0))),
    };
  } catch (error) {
    libc = `koffi or sendmmsg is not loadable (${error instanceof Error ? error.message : String(error)})`;
  }
  return libc;
}

type SocketState = Record<symbol, { handle?: { fd?: unknown } | null } | undefined>;
let stateSymbol: symbol | null | undefined;

/**
 * The socket's file descriptor, from Node's internal state (there is no public way), or null: where that
 * is not there, before the socket is bound, and after it is closed (its number may be another's by then).
 */
function socketFd(socket: Socket): number | null {
  stateSymbol ??= Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol') ?? null;
  const fd = stateSymbol ? (socket as unknown as SocketState)[stateSymbol]?.handle?.fd : undefined;
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
  private readonly flushTask = (): void => this.flush();

  /** `socket` must be connected before the first flush. */
  constructor(private readonly socket: Socket) {
    const loaded = loadLibc();
    this.libc = typeof loaded === 'string' ? null : loaded;
    if (typeof loaded === 'string') this.why = loaded;
  }

  /** Queues a datagram; it leaves at the end of the burst being read (see burst.ts) or of this turn of the event loop, or at `flush`. */
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
      afterBurst(this.flushTask);
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

/** Datagrams taken per recvmmsg call, and calls per burst (the rest waits for the next turn of the loop). */
const RECEIVE_BATCH = 64;
const RECEIVE_ROUNDS = 8;
/** Room for one datagram (a jumbo frame's): the rtp transport's are 1.2 KB; a longer one is dropped and counted. */
const SLOT_BYTES = 9216;
const NAME_BYTES = 128;
const MSG_NAME_AT = 0;
const MSG_NAMELEN_AT = 8;
const MSG_FLAGS_AT = 48;
const MSG_LEN_AT = 56;
const MSG_TRUNC = 0x20;
const AF_INET = 2;
const AF_INET6 = 10;

export interface UdpBatchReceiverCounters {
  /** Datagrams Node handed us (the first of each burst, or all where batching is off). */
  fromNode: number;
  /** recvmmsg calls that returned datagrams, and how many. */
  batches: number;
  batched: number;
  /** Longer than a slot (9 KiB): dropped (nothing of the rtp transport is). */
  truncated: number;
}

/**
 * Installs itself as the socket's 'message' listener and hands every datagram to `onDatagram` in order:
 * the one Node read, then what recvmmsg finds queued behind it. Each datagram handed on is a Buffer of
 * its own (kept as long as the caller likes). The RemoteInfo object is shared while the sender stays the
 * same (its `size` is the first datagram's).
 */
export class UdpBatchReceiver {
  readonly counters: UdpBatchReceiverCounters = { fromNode: 0, batches: 0, batched: 0, truncated: 0 };
  /** Why datagrams come one by one through Node, null while batching works (or until the socket is bound). */
  why: string | null = null;
  private readonly libc: Libc | null;
  private fd: number | null = null;
  private arena: Buffer | null = null;
  private names: Buffer | null = null;
  private headers: Buffer | null = null;
  private vectors: Buffer | null = null;
  private readonly lastName = Buffer.alloc(NAME_BYTES);
  private lastNameLength = 0;
  private lastFrom: RemoteInfo | null = null;
  /** Headers the last recvmmsg filled (all of them before the first). */
  private filled = RECEIVE_BATCH;

  constructor(
    private readonly socket: Socket,
    private readonly onDatagram: (data: Buffer, from: RemoteInfo) => void,
  ) {
    const loaded = loadLibc();
    this.libc = typeof loaded === 'string' ? null : loaded;
    if (typeof loaded === 'string') this.why = loaded;
    socket.on('message', (data: Buffer, from: RemoteInfo) => {
      this.counters.fromNode += 1;
      this.pending = data;
      this.pendingFrom = from;
      readBurst(this.readTask);
    });
  }

  private pending: Buffer | null = null;
  private pendingFrom: RemoteInfo | null = null;
  /** The datagram Node handed over, then what is queued behind it: one burst (made once, no closure per datagram). */
  private readonly readTask = (): void => {
    const data = this.pending!;
    const from = this.pendingFrom!;
    this.pending = null;
    this.pendingFrom = null;
    this.onDatagram(data, from);
    this.drain();
  };

  private drain(): void {
    if (!this.ready()) return;
    const headers = this.headers!;
    for (let round = 0; round < RECEIVE_ROUNDS; round += 1) {
      // closed (perhaps by the callback): its descriptor's number may be another socket's by now
      if (socketFd(this.socket) !== this.fd) return;
      // the kernel shortened msg_namelen only in the headers the last call filled: those alone are reset
      for (let index = 0; index < this.filled; index += 1) headers.writeUInt32LE(NAME_BYTES, index * MMSGHDR_BYTES + MSG_NAMELEN_AT);
      const count = this.libc!.recvmmsg(this.fd!, headers, RECEIVE_BATCH, MSG_DONTWAIT, null) as number;
      this.filled = Math.max(0, count);
      if (count <= 0) return;
      this.counters.batches += 1;
      for (let index = 0; index < count; index += 1) {
        const header = index * MMSGHDR_BYTES;
        const length = headers.readUInt32LE(header + MSG_LEN_AT);
        if (headers.readInt32LE(header + MSG_FLAGS_AT) & MSG_TRUNC) {
          this.counters.truncated += 1;
          continue;
        }
        const from = this.sender(index, headers.readUInt32LE(header + MSG_NAMELEN_AT), length);
        if (!from) continue;
        // a copy of its own: the slot is written over by the next call, and the caller keeps payloads
        const data = Buffer.allocUnsafe(length);
        this.arena!.copy(data, 0, index * SLOT_BYTES, index * SLOT_BYTES + length);
        this.counters.batched += 1;
        this.onDatagram(data, from);
        if (socketFd(this.socket) !== this.fd) return;
      }
      if (count < RECEIVE_BATCH) return;
    }
  }

  /** The sender's address, as Node would give it; the same object while it does not change. */
  private sender(index: number, nameLength: number, size: number): RemoteInfo | null {
    const names = this.names!;
    const at = index * NAME_BYTES;
    const length = Math.min(nameLength, NAME_BYTES);
    if (this.lastFrom && length === this.lastNameLength && names.compare(this.lastName, 0, length, at, at + length) === 0) return this.lastFrom;
    const family = names.readUInt16LE(at);
    let from: RemoteInfo;
    if (family === AF_INET && length >= 16) {
      from = { address: `${names[at + 4]}.${names[at + 5]}.${names[at + 6]}.${names[at + 7]}`, family: 'IPv4', port: names.readUInt16BE(at + 2), size };
    } else if (family === AF_INET6 && length >= 28) {
      from = { address: ipv6Text(names.subarray(at + 8, at + 24)), family: 'IPv6', port: names.readUInt16BE(at + 2), size };
    } else {
      return null;
    }
    names.copy(this.lastName, 0, at, at + length);
    this.lastNameLength = length;
    this.lastFrom = from;
    return from;
  }

  private ready(): boolean {
    if (this.arena) return true;
    if (!this.libc || this.why) return false;
    this.fd = socketFd(this.socket);
    if (this.fd === null) return false;
    this.arena = Buffer.allocUnsafeSlow(RECEIVE_BATCH * SLOT_BYTES);
    this.names = Buffer.allocUnsafeSlow(RECEIVE_BATCH * NAME_BYTES).fill(0);
    const vectors = Buffer.allocUnsafeSlow(RECEIVE_BATCH * IOVEC_BYTES).fill(0);
    this.headers = Buffer.allocUnsafeSlow(RECEIVE_BATCH * MMSGHDR_BYTES).fill(0);
    const arena = this.libc.addressOf(this.arena);
    const names = this.libc.addressOf(this.names);
    const vectorsAt = this.libc.addressOf(vectors);
    // kept alive with the headers that point into it
    this.vectors = vectors;
    for (let index = 0; index < RECEIVE_BATCH; index += 1) {
      vectors.writeBigUInt64LE(BigInt(arena + index * SLOT_BYTES), index * IOVEC_BYTES);
      vectors.writeBigUInt64LE(BigInt(SLOT_BYTES), index * IOVEC_BYTES + 8);
      const header = index * MMSGHDR_BYTES;
      this.headers.writeBigUInt64LE(BigInt(names + index * NAME_BYTES), header + MSG_NAME_AT);
      this.headers.writeBigUInt64LE(BigInt(vectorsAt + index * IOVEC_BYTES), header + MSG_IOV_AT);
      this.headers.writeBigUInt64LE(1n, header + MSG_IOVLEN_AT);
    }
    return true;
  }
}

/** RFC 5952 text of an IPv6 address (as Node's inet_ntop gives it): the longest run of zero groups as ::, a mapped IPv4 as ::ffff:a.b.c.d. */
export function ipv6Text(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  let bestAt = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - i > bestLength) {
      bestAt = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLength).join(':')}`;
}
