import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { PeerRecord, PeerScope, PeerStatus, StreamMessage, StreamRequest } from '../../shared/contract/peers';
import { MessageViewerLink } from '../sessions/message-viewer-link';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import { createNutBackend, InputInjector, type InputBackend } from '../input/injector';
import type { EventHub } from '../rpc/event-hub';
import type { HandlerGroup } from '../rpc/handlers';
import type { SharingService } from '../sharing/sharing-service';
import { StoreCorruptError } from '../store/atomic-json';
import { HostConnection, pairWithPeer } from './host';
import { loadOrCreateIdentity } from './identity';
import { PartyStore } from './party-store';

export interface PeersServiceOptions {
  configDir: string;
  audit: AuditLog;
  events: EventHub;
  sharing: SharingService;
  /** Injects input (default: nut-js, loaded on first use). */
  inputBackend?: () => Promise<InputBackend>;
  log?: (line: string) => void;
}

interface Live {
  connection: HostConnection;
  injector: InputInjector;
  link: MessageViewerLink | null;
}

export type StreamRequestHandler = (peer: PeerRecord, request: StreamRequest) => Promise<void>;

/**
 * The host's paired peers for the API (Peers page): pair by URI, scopes, revoke, and the control
 * channels with online state, RTT and clock offset. Input from a peer is injected only while it has
 * the `input` scope, its session is live and sharing is on; the kill switch stops every channel and
 * releases every held key.
 */
export class PeersService {
  readonly store: PartyStore;
  private readonly live = new Map<string, Live>();
  private scopes = new Map<string, PeerScope[]>();
  private backend: Promise<InputBackend> | null = null;
  private streamRequestHandler: StreamRequestHandler | null = null;

  constructor(private readonly options: PeersServiceOptions) {
    this.store = new PartyStore(options.configDir, 'peers');
    options.sharing.onKill(() => this.stopAll('kill switch'));
  }

  private identity() {
    return loadOrCreateIdentity(this.options.configDir, 'gpu-bridge host');
  }

  private async wrap<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (error instanceof StoreCorruptError) throw new ApiError(ErrorCode.Internal, error.message);
      throw error;
    }
  }

  async list(): Promise<PeerStatus[]> {
    const records = await this.wrap(() => this.store.list());
    for (const record of records) this.scopes.set(record.fingerprint, record.revokedAt ? [] : record.scopes);
    return records.map((record) => {
      const status = this.live.get(record.fingerprint)?.connection.status();
      return { ...record, online: status?.online ?? false, rttMs: status?.rttMs ?? null, clockOffsetMs: status?.clockOffsetMs ?? null };
    });
  }

  private async changed(): Promise<void> {
    this.options.events.emit('peers.changed', await this.list());
  }

  private async resolve(ref: string): Promise<PeerRecord> {
    const record = await this.wrap(() => this.store.find(ref));
    if (!record) throw new ApiError(ErrorCode.NotFound, `no paired peer "${ref}"`);
    return record;
  }

  async pair(uri: string, who: string): Promise<PeerRecord> {
    const record = await this.wrap(async () => pairWithPeer({ identity: await this.identity(), peers: this.store, audit: this.options.audit, uri }));
    void who;
    // open its control channel now, as at startup: it can stream and be seen online at once
    await this.connect(record.fingerprint).catch((error: unknown) => this.options.log?.(`could not connect to ${record.name}: ${String(error)}`));
    await this.changed();
    return record;
  }

  async setScopes(ref: string, scopes: PeerScope[], who: string): Promise<PeerRecord> {
    const before = await this.resolve(ref);
    const updated = await this.wrap(() => this.store.setScopes(before.fingerprint, scopes));
    if (!updated) throw new ApiError(ErrorCode.Conflict, `peer ${before.name} is revoked; pair again first`);
    this.scopes.set(updated.fingerprint, updated.scopes);
    const added = updated.scopes.filter((s) => !before.scopes.includes(s));
    const removed = before.scopes.filter((s) => !updated.scopes.includes(s));
    await this.options.audit.append({ who, action: 'peer.scopes', target: `${updated.name} ${updated.fingerprint}`, result: 'ok', detail: `grant [${added.join(',')}] withdraw [${removed.join(',')}]` });
    if (!updated.scopes.includes('input')) await this.live.get(updated.fingerprint)?.injector.releaseAll();
    if (!updated.scopes.includes('view')) this.dropLink(updated.fingerprint, 'the view scope was withdrawn');
    await this.changed();
    return updated;
  }

  async revoke(ref: string, who: string): Promise<PeerRecord> {
    const record = await this.resolve(ref);
    const revoked = (await this.wrap(() => this.store.revoke(record.fingerprint)))!;
    this.scopes.set(record.fingerprint, []);
    await this.disconnect(record.fingerprint);
    await this.options.audit.append({ who, action: 'peer.revoke', target: `${record.name} ${record.fingerprint}`, result: 'ok', detail: null });
    await this.changed();
    return revoked;
  }

  /** Opens (and keeps reopening) the control channel to one paired peer. */
  async connect(ref: string): Promise<void> {
    const record = await this.resolve(ref);
    if (record.revokedAt) throw new ApiError(ErrorCode.Refused, `peer ${record.name} is revoked`);
    if (this.live.has(record.fingerprint)) return;
    this.scopes.set(record.fingerprint, record.scopes);
    const connection = new HostConnection(await this.identity(), record, { peers: this.store, audit: this.options.audit });
    const backend: InputBackend = {
      keyDown: async (k) => (await this.inputBackend()).keyDown(k),
      keyUp: async (k) => (await this.inputBackend()).keyUp(k),
      move: async (x, y) => (await this.inputBackend()).move(x, y),
      button: async (b, d) => (await this.inputBackend()).button(b, d),
      wheel: async (x, y) => (await this.inputBackend()).wheel(x, y),
    };
    const injector = new InputInjector(backend, {
      allowed: () => {
        if (!this.options.sharing.sharing) return { ok: false, reason: 'sharing is off' };
        if (!connection.status().online) return { ok: false, reason: 'no live session' };
        if (!(this.scopes.get(record.fingerprint) ?? []).includes('input')) return { ok: false, reason: 'peer lacks the input scope' };
        return { ok: true };
      },
    });
    connection.on('input', (event) => void injector.inject(event).catch((error: unknown) => this.options.log?.(`input from ${record.name} failed: ${(error as Error).message}`)));
    connection.on('online', () => void this.changed());
    connection.on('offline', (reason: string) => {
      void injector.releaseAll();
      this.dropLink(record.fingerprint, `${record.name} went offline (${reason})`);
      void this.changed();
    });
    connection.on('stream', (message: StreamMessage) => this.live.get(record.fingerprint)?.link?.receive(message));
    connection.on('peer-error', (_reason: string, code: string, text: string) => this.live.get(record.fingerprint)?.link?.refused(code, text));
    connection.on('stream-request', (request: StreamRequest) => void this.onStreamRequest(record.fingerprint, connection, request));
    connection.on('refused', () => void this.disconnect(record.fingerprint).then(() => this.changed()));
    this.live.set(record.fingerprint, { connection, injector, link: null });
    connection.start();
  }

  async connectAll(): Promise<void> {
    for (const record of await this.list()) if (!record.revokedAt) await this.connect(record.fingerprint);
  }

  /** Who handles a peer's own request for a stream (the session manager). */
  setStreamRequestHandler(handler: StreamRequestHandler): void {
    this.streamRequestHandler = handler;
  }

  private async onStreamRequest(fingerprint: string, connection: HostConnection, request: StreamRequest): Promise<void> {
    const refuse = (reason: string): void => void connection.send({ type: 'stream.refused', reason });
    const record = await this.store.get(fingerprint).catch(() => null);
    if (!record || record.revokedAt) return refuse('this peer is not paired');
    if (!this.streamRequestHandler) return refuse('this host does not stream');
    try {
      await this.streamRequestHandler(record, request);
    } catch (error) {
      refuse((error as Error).message.slice(0, 500));
    }
  }

  /**
   * The viewer link for a paired peer: it must not be revoked, must hold the view scope and be online.
   * One link per peer; it goes away with the peer's connection.
   */
  async viewerLink(ref: string): Promise<MessageViewerLink> {
    const record = await this.resolve(ref);
    if (record.revokedAt) throw new ApiError(ErrorCode.Refused, `peer ${record.name} is revoked`);
    if (!record.scopes.includes('view')) throw new ApiError(ErrorCode.Refused, `peer ${record.name} lacks the view scope; grant it on the Peers page`);
    const live = this.live.get(record.fingerprint);
    if (!live || !live.connection.status().online) throw new ApiError(ErrorCode.Unavailable, `peer ${record.name} is offline`);
    if (live.link) return live.link;
    const hostPart = /^\[?([^\]]+?)\]?:\d+$/.exec(record.addr ?? '')?.[1];
    if (!hostPart) throw new ApiError(ErrorCode.Unavailable, `peer ${record.name} has no address to stream to`);
    const ip = isIP(hostPart) ? hostPart : (await lookup(hostPart)).address;
    const connection = live.connection;
    const link = new MessageViewerLink({
      name: record.name,
      host: ip,
      send: (message) => void connection.send(message),
      clock: () => {
        const status = connection.status();
        return { offsetMs: status.clockOffsetMs, rttMs: status.pathRttMs };
      },
    });
    live.link = link;
    return link;
  }

  private dropLink(fingerprint: string, reason: string): void {
    const live = this.live.get(fingerprint);
    if (!live?.link) return;
    const link = live.link;
    live.link = null;
    link.gone(reason);
  }

  private async disconnect(fingerprint: string): Promise<void> {
    const live = this.live.get(fingerprint);
    if (!live) return;
    this.dropLink(fingerprint, 'disconnected');
    this.live.delete(fingerprint);
    live.connection.stop();
    await live.injector.releaseAll();
  }

  async stopAll(_reason: string): Promise<void> {
    for (const fingerprint of [...this.live.keys()]) await this.disconnect(fingerprint);
  }

  private inputBackend(): Promise<InputBackend> {
    this.backend ??= (this.options.inputBackend ?? createNutBackend)();
    return this.backend;
  }

  handlers(): HandlerGroup<'peers.list' | 'peers.pair' | 'peers.setScopes' | 'peers.revoke'> {
    return {
      'peers.list': () => this.list(),
      'peers.pair': (params, ctx) => this.pair(params.uri, `${ctx.shell}:${ctx.clientId}`),
      'peers.setScopes': (params, ctx) => this.setScopes(params.peer, params.scopes, `${ctx.shell}:${ctx.clientId}`),
      'peers.revoke': (params, ctx) => this.revoke(params.peer, `${ctx.shell}:${ctx.clientId}`),
    };
  }
}
