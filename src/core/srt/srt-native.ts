import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { socketAddress } from './srt-address';

/**
 * libsrt called directly (koffi), for the peer's listener: ffmpeg's SRT input cannot report SRT's
 * statistics, and the adaptive bitrate needs them (SRT repairs loss inside its latency window, so the
 * decoded frames alone never show it). Null where libsrt cannot be loaded: ffmpeg's SRT input is used.
 */
interface SrtLib {
  createSocket(): number;
  setFlag(socket: number, option: number, value: Buffer): number;
  bind(socket: number, address: Buffer): number;
  listen(socket: number, backlog: number): number;
  accept(socket: number): number;
  recv: { async(socket: number, buffer: Buffer, size: number, done: (error: unknown, result: number) => void): void };
  bstats(socket: number, out: Buffer): number;
  lastError(): number;
  lastErrorText(): string;
  close(socket: number): number;
  /** The socket's state (SRT_SOCKSTATUS): unlike srt_getlasterror, readable from any thread. */
  state(socket: number): number;
  /** Why the handshake was refused (SRT_REJECT_REASON) and its text: per socket, from any thread. */
  rejectReason(socket: number): number;
  rejectReasonText(reason: number): string;
  /** The caller's side (the host sending the picture with its sound). */
  connect: { async(socket: number, address: Buffer, length: number, done: (error: unknown, result: number) => void): void };
  send(socket: number, data: Buffer): number;
}

// SRT_SOCKOPT values (srt.h, libsrt 1.5)
const SRTO_SNDSYN = 1;
const SRTO_CONNTIMEO = 36;
const SRTO_RCVSYN = 2;
const SRTO_RCVTIMEO = 14;
const SRTO_LATENCY = 23;
const SRTO_PASSPHRASE = 26;
const SRTO_PBKEYLEN = 27;
const SRTO_TRANSTYPE = 50;
const SRTO_ENFORCEDENCRYPTION = 53;
const SRTO_IPV6ONLY = 54;
// SRT_TRACEBSTATS offsets: pktRecvTotal (int64) at 16, pktRcvLossTotal (int) at 28, pktRcvDropTotal (int) at 68
const STATS_BYTES = 4096;
/** SRT_SOCKSTATUS values: a receive that gives nothing on a connected socket is a timeout (try again). */
const SRTS_CONNECTED = 5;
const SOCKET_STATES: Record<number, string> = { 1: 'init', 2: 'opened', 3: 'listening', 4: 'connecting', 5: 'connected', 6: 'broken', 7: 'closing', 8: 'closed', 9: 'gone' };
/** How often a waiting listener checks for its caller: adds at most this to session start, ~1% of a core idle at 2 ms. */
const ACCEPT_POLL_MS = 5;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type KoffiFn = ((...args: any[]) => any) & { async: (...args: any[]) => void };
interface KoffiLibrary {
  func(signature: string): KoffiFn;
}
interface KoffiLoader {
  load(path: string): KoffiLibrary;
}

let loaded: SrtLib | null | undefined;

export function loadSrt(): SrtLib | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.GPU_BRIDGE_SRT_INPUT === 'ffmpeg') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as KoffiLoader;
    let lib: KoffiLibrary | null = null;
    for (const name of ['libsrt-gnutls.so.1.5', 'libsrt-openssl.so.1.5', 'libsrt.so.1.5', 'libsrt.so.1']) {
      try {
        lib = koffi.load(name);
        break;
      } catch {
        // try the next build of libsrt
      }
    }
    if (!lib) return null;
    lib.func('int srt_startup()')();
    // the accept poll of a waiting listener fails every few ms by design: libsrt would log each (LOG_CRIT = 2)
    lib.func('void srt_setloglevel(int)')(2);
    const getLastError = lib.func('int srt_getlasterror(int *)');
    loaded = {
      createSocket: lib.func('int srt_create_socket()'),
      setFlag: ((fn) => (socket: number, option: number, value: Buffer) => fn(socket, option, value, value.length))(lib.func('int srt_setsockflag(int, int, const void *, int)')),
      bind: ((fn) => (socket: number, address: Buffer) => fn(socket, address, address.length))(lib.func('int srt_bind(int, const void *, int)')),
      listen: lib.func('int srt_listen(int, int)'),
      accept: ((fn) => (socket: number) => fn(socket, null, null))(lib.func('int srt_accept(int, void *, int *)')),
      recv: lib.func('int srt_recvmsg(int, void *, int)'),
      bstats: ((fn) => (socket: number, out: Buffer) => fn(socket, out, 0))(lib.func('int srt_bstats(int, void *, int)')),
      lastError: () => getLastError(null),
      lastErrorText: lib.func('const char *srt_getlasterror_str()'),
      close: lib.func('int srt_close(int)'),
      state: lib.func('int srt_getsockstate(int)'),
      rejectReason: lib.func('int srt_getrejectreason(int)'),
      rejectReasonText: lib.func('const char *srt_rejectreason_str(int)'),
      connect: lib.func('int srt_connect(int, const void *, int)'),
      send: ((fn) => (socket: number, data: Buffer) => fn(socket, data, data.length, null))(lib.func('int srt_sendmsg2(int, const void *, int, void *)')),
    };
  } catch {
    loaded = null;
  }
  return loaded;
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return buffer;
}

export interface SrtCounters {
  received: number;
  lost: number;
  dropped: number;
}

/**
 * One SRT listener (live mode, AES-256, enforced encryption) that accepts one caller and emits its
 * payload. Events: 'connected', 'data' (Buffer), 'end' (reason).
 */
export class NativeSrtListener extends EventEmitter {
  private listener = -1;
  private connection = -1;
  private closed = false;
  private acceptTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly srt: SrtLib,
    private readonly options: { host: string; port: number; passphrase: string; latencyMs: number; listenTimeoutMs: number },
  ) {
    super();
  }

  start(): void {
    const srt = this.srt;
    const address = socketAddress(this.options.host, this.options.port);
    const socket = srt.createSocket();
    const set = (option: number, value: Buffer, what: string) => {
      if (srt.setFlag(socket, option, value) < 0) throw new Error(`SRT ${what}: ${srt.lastErrorText()}`);
    };
    set(SRTO_TRANSTYPE, int32(0), 'live mode');
    set(SRTO_LATENCY, int32(Math.round(this.options.latencyMs)), 'latency');
    set(SRTO_PASSPHRASE, Buffer.from(this.options.passphrase), 'passphrase');
    set(SRTO_PBKEYLEN, int32(32), 'AES-256');
    set(SRTO_ENFORCEDENCRYPTION, int32(1), 'enforced encryption');
    set(SRTO_RCVSYN, int32(0), 'non-blocking accept');
    // on IPv6's any address (::) IPv4 callers are welcome too, whatever the system's net.ipv6.bindv6only says
    if (isIPv6(this.options.host)) set(SRTO_IPV6ONLY, int32(0), 'IPv4 callers on an IPv6 listener');
    if (srt.bind(socket, address) < 0 || srt.listen(socket, 1) < 0) {
      const text = srt.lastErrorText();
      srt.close(socket);
      throw new Error(`SRT listen on ${this.options.host}:${this.options.port}: ${text}`);
    }
    this.listener = socket;
    const deadline = Date.now() + this.options.listenTimeoutMs;
    // accept by polling a non-blocking socket: a blocking accept would hold a libuv worker thread
    this.acceptTimer = setInterval(() => {
      if (this.closed) return;
      const connection = srt.accept(socket);
      if (connection >= 0) {
        clearInterval(this.acceptTimer!);
        this.connection = connection;
        srt.setFlag(connection, SRTO_RCVSYN, int32(1));
        srt.setFlag(connection, SRTO_RCVTIMEO, int32(250));
        this.emit('connected');
        this.receive(Buffer.alloc(1500));
      } else if (Date.now() > deadline) {
        this.end('no caller within the listen timeout');
      }
    }, ACCEPT_POLL_MS);
  }

  private receive(buffer: Buffer): void {
    if (this.closed) return;
    this.srt.recv.async(this.connection, buffer, buffer.length, (error, size) => {
      if (this.closed) return;
      if (error) return this.end(String(error));
      if (size > 0) {
        this.emit('data', Buffer.from(buffer.subarray(0, size)));
        this.receive(buffer);
        return;
      }
      // srt_getlasterror is per thread and the receive ran on a worker: the socket's state says what happened
      const state = this.srt.state(this.connection);
      if (state === SRTS_CONNECTED) this.receive(buffer);
      else this.end(`the caller left (connection ${SOCKET_STATES[state] ?? state})`);
    });
  }

  /** Cumulative packets received, lost (before repair) and dropped (never repaired) on the connection. */
  counters(): SrtCounters | null {
    if (this.connection < 0 || this.closed) return null;
    const out = Buffer.alloc(STATS_BYTES);
    if (this.srt.bstats(this.connection, out) < 0) return null;
    return { received: Number(out.readBigInt64LE(16)), lost: out.readInt32LE(28), dropped: out.readInt32LE(68) };
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.close();
    this.emit('end', reason);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.acceptTimer) clearInterval(this.acceptTimer);
    // closing the socket wakes a blocked receive, which then sees `closed`
    if (this.connection >= 0) this.srt.close(this.connection);
    if (this.listener >= 0) this.srt.close(this.listener);
  }
}

/**
 * One SRT caller (live mode, AES-256, enforced encryption) that sends whole messages (the TS of the
 * picture and its sound, 188 to 1316 bytes each). A send never blocks: a full send buffer drops the
 * message (live mode: too late is lost anyway). 'end' (reason) when the connection breaks.
 */
export class NativeSrtCaller extends EventEmitter {
  private socket = -1;
  private closed = false;
  dropped = 0;

  constructor(
    private readonly srt: SrtLib,
    readonly options: { host: string; port: number; passphrase: string; latencyMs: number; connectTimeoutMs: number },
  ) {
    super();
  }

  /** Connects to the peer's listener (on a worker thread: the handshake blocks). */
  async connect(): Promise<void> {
    const srt = this.srt;
    const address = socketAddress(this.options.host, this.options.port);
    const socket = srt.createSocket();
    this.socket = socket;
    const set = (option: number, value: Buffer, what: string) => {
      if (srt.setFlag(socket, option, value) < 0) throw new Error(`SRT ${what}: ${srt.lastErrorText()}`);
    };
    set(SRTO_TRANSTYPE, int32(0), 'live mode');
    set(SRTO_LATENCY, int32(Math.round(this.options.latencyMs)), 'latency');
    set(SRTO_PASSPHRASE, Buffer.from(this.options.passphrase), 'passphrase');
    set(SRTO_PBKEYLEN, int32(32), 'AES-256');
    set(SRTO_ENFORCEDENCRYPTION, int32(1), 'enforced encryption');
    set(SRTO_CONNTIMEO, int32(this.options.connectTimeoutMs), 'connect timeout');
    const result = await new Promise<number>((resolve, reject) => srt.connect.async(socket, address, address.length, (error, value) => (error ? reject(error as Error) : resolve(value))));
    if (result < 0 || this.closed) {
      const closed = this.closed;
      // the connect ran on a worker thread, where its error stayed (srt_getlasterror is per thread): the socket's reject reason
      const text = closed ? 'closed' : srt.rejectReasonText(srt.rejectReason(socket));
      this.close();
      throw new Error(`SRT connect to ${this.options.host}:${this.options.port}: ${text}`);
    }
    set(SRTO_SNDSYN, int32(0), 'non-blocking send');
  }

  send(message: Buffer): void {
    if (this.closed || this.socket < 0) return;
    if (this.srt.send(this.socket, message) >= 0) return;
    // SRT_EASYNCSND: the send buffer is full; anything else: the connection is gone
    if (this.srt.lastError() === 6001) {
      this.dropped += 1;
      return;
    }
    const reason = this.srt.lastErrorText();
    this.close();
    this.emit('end', reason);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket >= 0) this.srt.close(this.socket);
  }
}
