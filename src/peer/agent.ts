import type { Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import type { ControlMessage, InputEvent, StreamRequest } from '../shared/contract/peers';
import { answerOpen, PeerStreams } from './peer-streams';
import { Admission, DEFAULT_LIMITS, sourceOf, type AdmissionLimits } from './admission';
import { RefusalLog, type RefusalSummary } from './refusal-log';
import { AuditLog } from '../core/audit/audit-log';
import { ControlChannel, preciseNow } from '../core/pairing/channel';
import { loadOrCreateIdentity } from '../core/pairing/identity';
import { PartyStore } from '../core/pairing/party-store';
import { peerFingerprint, tlsServerOptions } from '../core/pairing/tls-options';
import { TokenStore } from '../core/pairing/tokens';
import { readJsonStore, writeJsonAtomic } from '../core/store/atomic-json';
import type { SelfSignedIdentity } from '../core/crypto/self-signed';

export const RunInfo = z.object({ addr: z.string(), pid: z.number(), fingerprint: z.string() });
export type RunInfo = z.infer<typeof RunInfo>;

export interface PeerAgentOptions {
  configDir: string;
  listen: string;
  port: number;
  /** HOST:PORT put into pairing URIs; default: the listen address, or this machine's first external IPv4. */
  advertise?: string;
  name?: string;
  log?: (event: Record<string, unknown>) => void;
  /** Show received streams in a window (a display is present). */
  display?: boolean;
  /** Ask every connected host for a stream (needs the view scope and sharing on at the host). */
  watch?: StreamRequest;
  /** What unauthenticated clients may hold (tests make them smaller). */
  limits?: Partial<AdmissionLimits>;
}

/** The peer's audit log moves aside at this size (refusals are aggregated, but it faces the internet). */
const AUDIT_MAX_BYTES = 1 << 20;
/** A TLS handshake that has not finished by then is dropped. */
const HANDSHAKE_MS = 5_000;

interface HostSession {
  fingerprint: string;
  name: string;
  channel: ControlChannel;
  streams: PeerStreams;
}

/** The cloud-side agent: listens for paired hosts (mutual TLS 1.3, pinned), pairs new ones with one-time tokens. */
export class PeerAgent {
  private server: Server | null = null;
  readonly hosts: PartyStore;
  readonly tokens: TokenStore;
  readonly audit: AuditLog;
  private identity!: SelfSignedIdentity;
  private readonly sessions = new Set<HostSession>();
  private recheck: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private readonly admission: Admission;
  /** Refusals of strangers, aggregated (first of a kind at once, repeats counted once a minute). */
  private readonly refusals: RefusalLog;
  addr = '';

  constructor(private readonly options: PeerAgentOptions) {
    this.hosts = new PartyStore(options.configDir, 'hosts');
    this.tokens = new TokenStore(options.configDir);
    this.audit = new AuditLog(join(options.configDir, 'audit.jsonl'), AUDIT_MAX_BYTES);
    this.admission = new Admission({ ...DEFAULT_LIMITS, ...options.limits });
    this.refusals = new RefusalLog((summary) => this.recordRefusal(summary));
  }

  private recordRefusal(summary: RefusalSummary): void {
    this.log({ event: 'refused', source: summary.source, reason: summary.reason, count: summary.count, ...(summary.kind === 'repeated' ? { repeated: true } : {}) });
    const detail = summary.kind === 'first' ? summary.reason : `${summary.reason} (${summary.count} more in the last minute)`;
    const action = /pairing/.test(summary.reason) ? 'peer.pair' : 'peer.connect';
    void this.audit.append({ who: `remote:${summary.source}`, action, target: summary.source, result: 'refused', detail }).catch(() => undefined);
  }

  private log(event: Record<string, unknown>): void {
    this.options.log?.(event);
  }

  get fingerprint(): string {
    return this.identity.fingerprint;
  }

  async start(): Promise<string> {
    this.identity = await loadOrCreateIdentity(this.options.configDir, `gpu-bridge peer ${this.options.name ?? hostname()}`);
    const server = createServer({ ...tlsServerOptions(this.identity), handshakeTimeout: HANDSHAKE_MS }, (socket) => void this.onConnection(socket));
    // before TLS costs anything: connections not yet paired are bounded in number, per address and in time
    server.on('connection', (socket: Socket) => {
      const refused = this.admission.admit(socket);
      if (refused) this.refusals.note(sourceOf(socket), refused);
    });
    server.on('tlsClientError', (error, socket) => this.refusals.note(sourceOf(socket), `TLS: ${tlsReason(error)}`));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.listen, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.addr = this.options.advertise ?? `${advertiseHost(this.options.listen)}:${port}`;
    await writeJsonAtomic(join(this.options.configDir, 'run.json'), { addr: this.addr, pid: process.pid, fingerprint: this.identity.fingerprint } satisfies RunInfo);
    // a revoke by `peer revoke` (another process) closes live sessions at once: the hosts store is watched
    // (it is replaced by a rename), with a slow poll behind it where watching is not to be had
    try {
      const storeName = basename(this.hosts.file);
      this.watcher = watch(dirname(this.hosts.file), (_event, name) => {
        if (name === storeName) void this.recheckSessions();
      });
      this.watcher.on('error', () => undefined);
      this.watcher.unref();
    } catch {
      this.watcher = null;
    }
    this.recheck = setInterval(() => void this.recheckSessions(), this.watcher ? 300_000 : 1000);
    this.recheck.unref();
    const bound = `${this.options.listen.includes(':') ? `[${this.options.listen}]` : this.options.listen}:${port}`;
    return bound;
  }

  async stop(): Promise<void> {
    if (this.recheck) clearInterval(this.recheck);
    this.watcher?.close();
    this.admission.close();
    this.refusals.close();
    for (const session of this.sessions) session.channel.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Sends an input event to every connected host. Returns how many hosts it went to. */
  sendInput(event: InputEvent): number {
    let sent = 0;
    for (const session of this.sessions) {
      session.channel.send({ type: 'input', event });
      sent += 1;
    }
    return sent;
  }

  get connectedHosts(): number {
    return this.sessions.size;
  }

  private async recheckSessions(): Promise<void> {
    for (const session of this.sessions) {
      const record = await this.hosts.get(session.fingerprint).catch(() => null);
      if (!record || record.revokedAt !== null) {
        session.channel.send({ type: 'revoked' });
        session.channel.close('REFUSED', 'this host was revoked');
      }
    }
  }

  private async onConnection(socket: TLSSocket): Promise<void> {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const fingerprint = peerFingerprint(socket);
    if (fingerprint === null) {
      const channel = new ControlChannel(socket);
      this.refusals.note(sourceOf(socket), 'no client certificate');
      channel.close('UNAUTHORIZED', 'a client certificate is required');
      return;
    }
    // the socket stays paused (no data listener) until the channel exists, so no message is lost meanwhile
    socket.on('error', () => undefined);
    let record;
    try {
      record = await this.hosts.get(fingerprint);
    } catch (error) {
      this.log({ event: 'store-error', reason: (error as Error).message });
      socket.destroy();
      return;
    }
    const channel = new ControlChannel(socket);
    if (record && record.revokedAt === null) {
      this.startSession(channel, fingerprint, record.name, remote);
      return;
    }
    // not (or no longer) paired: the only thing it may do is pair with a token, within 10 seconds
    const timer = setTimeout(() => channel.close('TIMEOUT', 'no pairing request'), 10_000);
    channel.once('close', () => clearTimeout(timer));
    channel.once('message', (message: ControlMessage) => {
      clearTimeout(timer);
      void this.onPairRequest(channel, fingerprint, remote, message, record?.revokedAt ? 'revoked' : 'unknown');
    });
  }

  /**
   * One pairing token tried from `source`, by a stranger or a paired host pairing again: refused without a
   * look at the token store after too many failures from there (or everywhere), counted when it is wrong.
   * Null when the token was good (and is now used).
   */
  private async tryPairingToken(source: string, token: string, who: string): Promise<{ code: 'RATE_LIMITED' | 'REFUSED'; message: string } | null> {
    if (!this.admission.allowPairing(source)) {
      this.refusals.note(source, `too many pairing attempts${who}`);
      return { code: 'RATE_LIMITED', message: 'too many pairing attempts: wait a minute, then pair with a fresh URI' };
    }
    const check = await this.tokens.consume(token);
    if (check.ok) return null;
    this.admission.pairingFailed(source);
    this.refusals.note(source, `pairing token ${check.reason}${who}`);
    return { code: 'REFUSED', message: tokenRefusal(check.reason) };
  }

  private async onPairRequest(channel: ControlChannel, fingerprint: string, remote: string, message: ControlMessage, status: 'revoked' | 'unknown'): Promise<void> {
    const source = sourceOf(channel.socket);
    if (message.type !== 'pair') {
      this.refusals.note(source, `${status} certificate`);
      channel.close('UNAUTHORIZED', status === 'revoked' ? 'this host was revoked; pair again' : 'this host is not paired; pair first');
      return;
    }
    const refused = await this.tryPairingToken(source, message.token, '');
    if (refused) {
      channel.close(refused.code, refused.message);
      return;
    }
    const host = await this.hosts.upsert({ fingerprint, name: message.name, addr: null, scopes: ['view', 'input'] });
    await this.audit.append({ who: `host:${host.name}`, action: 'peer.pair', target: fingerprint, result: 'ok', detail: remote });
    this.log({ event: 'paired', name: host.name, fingerprint });
    channel.send({ type: 'paired', name: this.options.name ?? hostname() });
    this.startSession(channel, fingerprint, host.name, remote);
  }

  private startSession(channel: ControlChannel, fingerprint: string, name: string, remote: string): void {
    const listenIp = channel.socket.localAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0';
    const streams = new PeerStreams({
      listen: listenIp,
      display: this.options.display ?? false,
      title: `GPU Bridge — ${name}`,
      send: (message) => channel.send(message),
      log: (event) => this.log({ ...event, host: name }),
      warm: true,
    });
    const session: HostSession = { fingerprint, name, channel, streams };
    this.sessions.add(session);
    this.admission.settle(channel.socket);
    void this.hosts.touch(fingerprint);
    void this.audit.append({ who: `host:${name}`, action: 'peer.connect', target: fingerprint, result: 'ok', detail: remote });
    this.log({ event: 'connected', name, fingerprint });
    // a host that goes silent for 5 s is offline, or for 2.5 of its announced ping intervals (slower when idle)
    channel.socket.setTimeout(5_000, () => channel.close('TIMEOUT', 'no heartbeat'));
    let silenceLimitMs = 5_000;
    channel.on('message', (message: ControlMessage) => {
      switch (message.type) {
        case 'ping': {
          const t1 = preciseNow();
          const limit = Math.max(5_000, Math.round((message.next ?? 0) * 2.5) + 2_000);
          if (limit !== silenceLimitMs) {
            silenceLimitMs = limit;
            channel.socket.setTimeout(limit);
          }
          channel.send({ type: 'pong', id: message.id, t0: message.t0, t1, t2: preciseNow() });
          return;
        }
        case 'hello':
          channel.send({ type: 'welcome', name: this.options.name ?? hostname() });
          if (this.options.watch) channel.send(this.options.watch);
          return;
        case 'stream.open':
          streams.open(message).then(
            (opened) => answerOpen((answer) => channel.send(answer), message.streamId, opened),
            (error: Error) => channel.send({ type: 'stream.ended', streamId: message.streamId, reason: `the peer could not listen: ${error.message}` }),
          );
          return;
        case 'stream.close':
          void streams.close(message.streamId);
          return;
        case 'stream.refused':
          this.log({ event: 'stream-refused', host: name, reason: message.reason });
          return;
        case 'pair':
          // an already paired host pairing again (e.g. after a host-side revoke): the token must still be valid
          void this.tryPairingToken(sourceOf(channel.socket), message.token, ` (host ${name})`).then(async (refused) => {
            if (refused) {
              channel.send({ type: 'error', ...refused });
              return;
            }
            await this.hosts.upsert({ fingerprint, name: message.name, addr: null });
            await this.audit.append({ who: `host:${name}`, action: 'peer.pair', target: fingerprint, result: 'ok', detail: remote });
            channel.send({ type: 'paired', name: this.options.name ?? hostname() });
          });
          return;
        case 'pong':
        case 'error':
          return;
        default:
          channel.send({ type: 'error', code: 'INVALID_REQUEST', message: `unexpected message ${message.type} from a host` });
      }
    });
    channel.once('close', (reason: string) => {
      this.sessions.delete(session);
      void streams.closeAll();
      void this.hosts.touch(fingerprint).catch(() => undefined);
      this.log({ event: 'disconnected', name, fingerprint, reason });
    });
  }
}

export async function readRunInfo(configDir: string): Promise<RunInfo | null> {
  const { value } = await readJsonStore(join(configDir, 'run.json'), RunInfo.nullable(), () => null);
  if (!value) return null;
  try {
    process.kill(value.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return null;
  }
  return value;
}

function tokenRefusal(reason: 'unknown' | 'used' | 'expired'): string {
  const text = { unknown: 'the pairing token is not valid', used: 'the pairing token was already used', expired: 'the pairing token has expired' }[reason];
  return `${text}; run \`gpu-bridge peer pair\` for a new one`;
}

function advertiseHost(listen: string): string {
  if (listen !== '0.0.0.0' && listen !== '::' && listen !== '') return listen.includes(':') ? `[${listen}]` : listen;
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  return '127.0.0.1';
}

/** OpenSSL's words for a failed handshake, short (the code when there is one). */
function tlsReason(error: Error & { code?: string }): string {
  return (error.code ?? error.message).slice(0, 80);
}
