import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { connect, type TLSSocket } from 'node:tls';
import type { ControlMessage, InputEvent, PeerRecord } from '../../shared/contract/peers';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { SelfSignedIdentity } from '../crypto/self-signed';
import { ClockEstimator, ControlChannel, preciseNow } from './channel';
import type { PartyStore } from './party-store';
import { peerFingerprint, tlsClientOptions } from './tls-options';
import { parsePairUri } from './uri';

/** Opens a mutual TLS 1.3 connection and checks the peer's certificate against the pinned fingerprint. */
export function dialPinned(identity: SelfSignedIdentity, host: string, port: number, expectedFingerprint: string, timeoutMs = 10_000): Promise<ControlChannel> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(error);
    };
    const socket: TLSSocket = connect({ host, port, ...tlsClientOptions(identity) }, () => {
      const fingerprint = peerFingerprint(socket);
      if (fingerprint !== expectedFingerprint) {
        fail(new ApiError(ErrorCode.Refused, `the peer at ${host}:${port} presented certificate ${fingerprint ?? '(none)'}, not the pinned ${expectedFingerprint}: possible man-in-the-middle, refused`));
        return;
      }
      if (socket.getProtocol() !== 'TLSv1.3') {
        fail(new ApiError(ErrorCode.Refused, `the peer negotiated ${socket.getProtocol()}, not TLS 1.3: refused`));
        return;
      }
      settled = true;
      socket.setTimeout(0);
      resolve(new ControlChannel(socket));
    });
    socket.setTimeout(timeoutMs, () => fail(new ApiError(ErrorCode.Timeout, `no answer from ${host}:${port} within ${timeoutMs / 1000} s`)));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const text = error.code === 'ECONNREFUSED' ? `nothing listens on ${host}:${port} (is \`gpu-bridge peer run\` up?)` : error.message;
      fail(new ApiError(ErrorCode.Unavailable, text));
    });
  });
}

/** The first reply on a channel: resolves with it, or rejects when the channel closes first. */
function nextMessage(channel: ControlChannel, timeoutMs: number): Promise<ControlMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new ApiError(ErrorCode.Timeout, 'the peer did not answer'));
    }, timeoutMs);
    const onMessage = (message: ControlMessage) => {
      cleanup();
      resolve(message);
    };
    const onClose = (reason: string) => {
      cleanup();
      reject(new ApiError(ErrorCode.Refused, `the peer closed the connection (${reason})`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      channel.off('message', onMessage);
      channel.off('close', onClose);
    };
    channel.on('message', onMessage);
    channel.on('close', onClose);
  });
}

/** Host side of pairing: dial the URI's address, check its fingerprint, present our certificate and the token. */
export async function pairWithPeer(options: { identity: SelfSignedIdentity; peers: PartyStore; audit: AuditLog; uri: string; name?: string }): Promise<PeerRecord> {
  let uri;
  try {
    uri = parsePairUri(options.uri);
  } catch (error) {
    throw new ApiError(ErrorCode.InvalidParams, (error as Error).message);
  }
  let channel: ControlChannel;
  try {
    channel = await dialPinned(options.identity, uri.host, uri.port, uri.fingerprint);
  } catch (error) {
    await options.audit.append({ action: 'peer.pair', target: uri.addr, result: 'refused', detail: (error as Error).message });
    throw error;
  }
  try {
    channel.send({ type: 'pair', token: uri.token, name: options.name ?? hostname() });
    const reply = await nextMessage(channel, 10_000);
    if (reply.type === 'error') throw new ApiError(ErrorCode.Refused, `the peer refused pairing: ${reply.message}`);
    if (reply.type !== 'paired') throw new ApiError(ErrorCode.Refused, `unexpected answer ${reply.type} from the peer`);
    const record = await options.peers.upsert({ fingerprint: uri.fingerprint, name: reply.name, addr: uri.addr, scopes: ['view'] });
    await options.audit.append({ action: 'peer.pair', target: `${record.name} ${record.fingerprint}`, result: 'ok', detail: uri.addr });
    return record;
  } catch (error) {
    await options.audit.append({ action: 'peer.pair', target: uri.addr, result: 'refused', detail: (error as Error).message });
    throw error;
  } finally {
    channel.close();
  }
}

export interface HostConnectionStatus {
  online: boolean;
  /** The last sample's round trip (what the Peers page shows). */
  rttMs: number | null;
  /** The smallest of the last few (what streams size their buffers by). */
  pathRttMs: number | null;
  clockOffsetMs: number | null;
}

/**
 * The host's long-lived control channel to one paired peer: heartbeats every second while a stream is
 * open (the latency series needs a fresh clock offset) and every `idleHeartbeatMs` otherwise (a paired,
 * idle host and peer should cost next to nothing), RTT and clock offset, reconnect with exponential
 * backoff and jitter. A peer silent for `offlineAfterMs` (idle: 2.5 idle intervals) is offline.
 * Events: 'online', 'offline' (reason), 'input' (InputEvent), 'stream' (stream.ready|frames|ended),
 * 'stream-request' (StreamRequest), 'sample' ({rttMs, offsetMs}), 'refused' (reason).
 */
export class HostConnection extends EventEmitter {
  private channel: ControlChannel | null = null;
  private stopped = false;
  private attempt = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingId = 0;
  private pingEveryMs = 0;
  /** Streams opened on this channel and not yet ended: while there is one, the heartbeat is fast. */
  private readonly openStreams = new Set<string>();
  readonly clock = new ClockEstimator();

  constructor(
    private readonly identity: SelfSignedIdentity,
    private readonly peer: PeerRecord,
    private readonly options: { peers: PartyStore; audit: AuditLog; heartbeatMs?: number; idleHeartbeatMs?: number; offlineAfterMs?: number; maxBackoffMs?: number },
  ) {
    super();
  }

  /** Sends on the live channel; false when offline. */
  send(message: ControlMessage): boolean {
    if (!this.channel || this.channel.isClosed) return false;
    this.channel.send(message);
    if (message.type === 'stream.open') this.streamOpened(message.streamId);
    else if (message.type === 'stream.close') this.streamEnded(message.streamId);
    return true;
  }

  private streamOpened(streamId: string): void {
    this.openStreams.add(streamId);
    if (this.channel) this.startHeartbeat(this.channel);
  }

  private streamEnded(streamId: string): void {
    if (this.openStreams.delete(streamId) && this.openStreams.size === 0 && this.channel) this.startHeartbeat(this.channel);
  }

  status(): HostConnectionStatus {
    return { online: this.channel !== null && !this.channel.isClosed, rttMs: this.clock.rttMs, pathRttMs: this.clock.pathRttMs, clockOffsetMs: this.clock.offsetMs };
  }

  start(): void {
    this.stopped = false;
    void this.dial();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.channel?.close();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const base = Math.min(this.options.maxBackoffMs ?? 10_000, 250 * 2 ** Math.min(this.attempt, 8));
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => void this.dial(), delay);
  }

  private async dial(): Promise<void> {
    if (this.stopped) return;
    const current = await this.options.peers.get(this.peer.fingerprint);
    if (!current || current.revokedAt !== null || !current.addr) {
      this.emit('refused', 'this peer is revoked on this host');
      this.stopped = true;
      return;
    }
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(current.addr);
    if (!match) {
      this.emit('refused', `bad address ${current.addr}`);
      this.stopped = true;
      return;
    }
    let channel: ControlChannel;
    try {
      channel = await dialPinned(this.identity, match[1]!, Number(match[2]), current.fingerprint, 5_000);
    } catch (error) {
      this.emit('dial-failed', (error as Error).message);
      if (error instanceof ApiError && error.code === ErrorCode.Refused) {
        await this.options.audit.append({ action: 'peer.connect', target: current.name, result: 'refused', detail: error.message });
      }
      this.scheduleRetry();
      return;
    }
    if (this.stopped) {
      channel.close();
      return;
    }
    this.channel = channel;
    let welcomed = false;
    channel.on('message', (message: ControlMessage) => {
      this.silenceTimer?.refresh();
      switch (message.type) {
        case 'welcome':
          welcomed = true;
          this.attempt = 0;
          void this.options.peers.touch(current.fingerprint);
          void this.options.audit.append({ action: 'peer.connect', target: current.name, result: 'ok', detail: current.addr });
          this.emit('online');
          // the ping sent with hello waited while the peer set the session up: measure the path again
          this.ping(channel);
          return;
        case 'pong': {
          const sample = this.clock.add(message.t0, message.t1, message.t2, preciseNow());
          this.emit('sample', { rttMs: sample.rttMs, offsetMs: this.clock.offsetMs });
          return;
        }
        case 'input':
          if (welcomed) this.emit('input', message.event as InputEvent);
          return;
        case 'stream.ready':
        case 'stream.audio':
        case 'stream.frames':
        case 'stream.ended':
        case 'stream.stats':
          if (message.type === 'stream.ended') this.streamEnded(message.streamId);
          if (welcomed) this.emit('stream', message);
          return;
        case 'stream.request':
          if (welcomed) this.emit('stream-request', message);
          return;
        case 'revoked':
          this.emit('refused', 'the peer revoked this host');
          this.stopped = true;
          return;
        case 'error':
          // the code and text apart too: a stream.open the peer could not read fails its wait at once
          this.emit('peer-error', `${message.code}: ${message.message}`, message.code, message.message);
          if (!welcomed && (message.code === 'UNAUTHORIZED' || message.code === 'REFUSED')) {
            this.emit('refused', message.message);
            this.stopped = true;
          }
          return;
        default:
          channel.send({ type: 'error', code: 'INVALID_REQUEST', message: `unexpected message ${message.type} from a peer` });
      }
    });
    channel.once('close', (reason: string) => {
      this.stopHeartbeat();
      this.openStreams.clear();
      this.channel = null;
      this.emit('offline', reason);
      this.scheduleRetry();
    });
    channel.send({ type: 'hello', name: hostname() });
    this.startHeartbeat(channel);
  }

  /** (Re)starts the heartbeat at the rate the channel needs now; a change of rate pings at once. */
  private startHeartbeat(channel: ControlChannel): void {
    const active = this.openStreams.size > 0;
    const every = active ? (this.options.heartbeatMs ?? 1000) : (this.options.idleHeartbeatMs ?? 10_000);
    if (every === this.pingEveryMs && this.pingTimer) return;
    const offlineAfter = active ? (this.options.offlineAfterMs ?? 4000) : Math.max(this.options.offlineAfterMs ?? 4000, every * 2.5);
    this.stopHeartbeat();
    this.pingEveryMs = every;
    // Silence is timed from the last message heard (refreshed on each), not checked at ping ticks.
    this.silenceTimer = setTimeout(() => {
      channel.close(undefined, 'no answer to heartbeats');
      channel.socket.destroy();
    }, offlineAfter);
    this.pingTimer = setInterval(() => this.ping(channel), every);
    this.ping(channel);
  }

  private ping(channel: ControlChannel): void {
    channel.send({ type: 'ping', id: this.pingId++, t0: preciseNow(), next: this.pingEveryMs });
  }

  private stopHeartbeat(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.pingTimer = null;
    this.silenceTimer = null;
    this.pingEveryMs = 0;
  }
}
