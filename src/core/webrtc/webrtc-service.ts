import { randomUUID } from 'node:crypto';
import type { InputEvent } from '../../shared/contract/peers';
import type { ViewLink, WatchOffer } from '../../shared/contract/webrtc';
import { ENCODER_CODEC } from '../../shared/contract/sessions';
import { BROWSER_TRANSPORT, BROWSER_VIEWER, browserRefusal } from '../../shared/transports';
import type { AuditLog } from '../audit/audit-log';
import { ApiError, ErrorCode } from '../../shared/errors';
import { InputInjector, type InputBackend } from '../input/injector';
import type { HandlerGroup } from '../rpc/handlers';
import type { SessionManager } from '../sessions/session-manager';
import type { SharingService } from '../sharing/sharing-service';
import { defaultBitrateKbps } from '../sessions/selftest';
import { ViewLinks, type Redeemed } from './view-links';
import { WebRtcViewer } from './webrtc-viewer';

export interface WebRtcServiceOptions {
  sessions: SessionManager;
  sharing: SharingService;
  /** Where input goes (the desktop input router's backend). */
  inputBackend: () => Promise<InputBackend>;
  portRange: [number, number];
  extraHostAddresses?: string[];
  /** Browsers watching at once (each one a peer connection and its ports). */
  maxViewers?: number;
  /** Where view links are kept; absent: none can be made. */
  configDir?: string;
  audit: AuditLog;
}

/** The methods a view link's browser may call: watching, nothing else (no events either). */
export const GUEST_METHODS: ReadonlySet<string> = new Set(['webrtc.watch', 'webrtc.answer', 'webrtc.leave', 'app.ping']);

interface Guest {
  link: ViewLink;
  /** Cuts the guest's connection (the web shell closes its WebSocket). */
  cut: (reason: string) => void;
  /** Why it was cut: what it still sends while its connection closes is refused, never taken for the owner's. */
  cutFor?: string;
}

/** Who watches: the web shell's owner (input granted), or a view link's holder (input only if the link grants it). */
export interface Watcher {
  who: string;
  /** Name in the session's viewer list. */
  label: string;
  input: boolean;
  /** A page's live thumbnail of the session (no input, keeps no session going). */
  passive?: boolean;
}

interface Watching {
  viewer: WebRtcViewer;
  sessionId: string | null;
  clientId: string;
  injector: InputInjector | null;
  /** What the browser was last told about its input ('ok' or the reason it is refused). */
  inputState?: string;
}

/**
 * Browsers watching sessions over WebRTC (one more kind of viewer): `webrtc.watch` makes the viewer,
 * joins or starts its session, and answers the host's SDP offer; `webrtc.answer` completes it.
 * Input from the browser goes through the same injector as a peer's (scope gate, rate limit, kill switch).
 */
export class WebRtcService {
  private readonly watching = new Map<string, Watching>();
  private readonly guests = new Map<string, Guest>();
  readonly links: ViewLinks | null;
  private readonly expiry: NodeJS.Timeout;

  constructor(private readonly options: WebRtcServiceOptions) {
    this.links = options.configDir ? new ViewLinks(options.configDir, options.audit) : null;
    options.sharing.onKill(() => {
      for (const entry of this.watching.values()) void entry.injector?.releaseAll();
    });
    // a link that expires (or is revoked elsewhere) while in use cuts its browser off
    this.expiry = setInterval(() => void this.checkGuests(), 1000);
    this.expiry.unref();
  }

  /** A browser presents a view link on the WebSocket: it is used up now (one time), or refused with why. */
  async guestConnected(clientId: string, token: string, from: string, cut: (reason: string) => void): Promise<Redeemed> {
    if (!this.links) return { ok: false, reason: 'this shell keeps no view links' };
    const redeemed = await this.links.redeem(token, from);
    if (redeemed.ok) this.guests.set(clientId, { link: redeemed.link, cut });
    return redeemed;
  }

  private async checkGuests(): Promise<void> {
    for (const [clientId, guest] of this.guests) {
      if (guest.cutFor || (await this.links?.stillLive(guest.link.id))) continue;
      this.cutGuest(clientId, 'the view link expired or was revoked');
    }
  }

  private cutGuest(clientId: string, reason: string): void {
    const guest = this.guests.get(clientId);
    if (!guest || guest.cutFor) return;
    // kept (marked) until its connection is gone: clientGone forgets it
    guest.cutFor = reason;
    for (const entry of [...this.watching.values()]) if (entry.clientId === clientId) entry.viewer.end(reason);
    guest.cut(reason);
  }

  private async revoke(id: string, who: string): Promise<ViewLink> {
    if (!this.links) throw new ApiError(ErrorCode.Unavailable, 'this shell keeps no view links');
    const link = await this.links.revoke(id, who);
    for (const [clientId, guest] of this.guests) if (guest.link.id === id) this.cutGuest(clientId, 'the view link was revoked');
    return link;
  }

  private async createLink(params: { label: string; minutes: number; input: boolean; sessionId?: string }, who: string): Promise<{ link: ViewLink; path: string }> {
    if (!this.links) throw new ApiError(ErrorCode.Unavailable, 'this shell keeps no view links');
    const { link, token } = await this.links.create(params, who);
    return { link, path: `/?view=${token}#/watch` };
  }

  /** Whom a call comes from: the owner, or a view link's browser (its session, its grant). */
  private watcherFor(clientId: string, shell: string): { watcher: Watcher; sessionId?: string; guest: boolean } {
    const guest = this.guests.get(clientId);
    if (!guest) return { watcher: { who: `${shell}:${clientId}`, label: 'browser', input: true }, guest: false };
    if (guest.cutFor) throw new ApiError(ErrorCode.Forbidden, `${guest.cutFor}: ask the owner for a new link`);
    return { watcher: { who: `view-link:${guest.link.label}`, label: `link ${guest.link.label.replace(/[^\w .-]/g, '').slice(0, 40)}`, input: guest.link.input }, sessionId: guest.link.sessionId ?? undefined, guest: true };
  }

  /** A view link's browser watches its link's session, or the newest live one that a browser can decode. */
  private guestTarget(sessionId: string | undefined): string {
    if (sessionId) return sessionId;
    const live = this.options.sessions.list().filter((s) => browserRefusal(s.transport, ENCODER_CODEC[s.encoder]) === null).filter((s) => s.state === 'running' || s.state === 'starting');
    const newest = live.at(-1);
    if (!newest) throw new ApiError(ErrorCode.Unavailable, 'nothing is being shared right now: ask the owner to start a session');
    return newest.id;
  }

  async watch(params: { sessionId?: string; start?: { width: number; height: number; fps: number; bitrateKbps?: number; source?: Parameters<SessionManager['startFor']>[1]['source'] } }, clientId: string, watcher: Watcher): Promise<WatchOffer> {
    if (!params.sessionId === !params.start) throw new ApiError(ErrorCode.InvalidParams, 'give either sessionId (join a session) or start (a new one)');
    const max = this.options.maxViewers ?? 8;
    if (this.watching.size >= max) throw new ApiError(ErrorCode.Conflict, `already ${this.watching.size} browsers watching (the maximum is ${max})`);
    const viewerId = randomUUID();
    const existing = params.sessionId ? this.options.sessions.list().find((s) => s.id === params.sessionId) : undefined;
    if (params.sessionId && !existing) throw new ApiError(ErrorCode.NotFound, `no session ${params.sessionId}`);
    const bitrateKbps = existing?.targetKbps ?? params.start?.bitrateKbps ?? defaultBitrateKbps(params.start!.width, params.start!.height, params.start!.fps);
    let entry: Watching | null = null;
    const viewer = new WebRtcViewer({
      name: `${watcher.label} ${viewerId.slice(0, 8)}`,
      portRange: this.options.portRange,
      extraHostAddresses: this.options.extraHostAddresses,
      bitrateKbps,
      shape: existing ? { width: existing.width, height: existing.height, fps: existing.fps } : { width: params.start!.width, height: params.start!.height, fps: params.start!.fps },
      passive: watcher.passive,
      onInput: watcher.input ? (event) => this.input(entry, event) : undefined,
    });
    entry = { viewer, sessionId: null, clientId, injector: watcher.input ? this.injector(viewer, () => entry) : null };
    this.watching.set(viewerId, entry);
    viewer.once('gone', () => {
      void entry?.injector?.releaseAll();
      this.watching.delete(viewerId);
    });
    try {
      const sdp = await viewer.offer();
      const info = params.sessionId
        ? await this.options.sessions.join(params.sessionId, viewer, watcher.who)
        : await this.options.sessions.startFor(viewer, { ...params.start!, codec: BROWSER_VIEWER.codecs[0], transport: BROWSER_TRANSPORT }, watcher.who, watcher.input);
      entry.sessionId = info.id;
      return { viewerId, sessionId: info.id, sdp, width: info.width, height: info.height, fps: info.fps, input: watcher.input };
    } catch (error) {
      viewer.end(`could not watch: ${(error as Error).message}`);
      throw error;
    }
  }

  async answer(viewerId: string, sdp: string, clientId: string): Promise<Record<string, never>> {
    const entry = this.own(viewerId, clientId);
    try {
      await entry.viewer.answer(sdp);
    } catch (error) {
      entry.viewer.end('bad answer');
      throw new ApiError(ErrorCode.InvalidParams, `the browser's SDP answer was refused: ${(error as Error).message}`);
    }
    return {};
  }

  leave(viewerId: string, clientId: string): Record<string, never> {
    this.own(viewerId, clientId).viewer.end('the browser left');
    return {};
  }

  /** A client's viewers end with its connection. */
  clientGone(clientId: string): void {
    this.guests.delete(clientId);
    for (const entry of [...this.watching.values()]) if (entry.clientId === clientId) entry.viewer.end('the browser disconnected');
  }

  /** The viewer of this id, for the client that made it (another client's id is as good as none). */
  private own(viewerId: string, clientId: string): Watching {
    const entry = this.watching.get(viewerId);
    if (!entry || entry.clientId !== clientId) throw new ApiError(ErrorCode.NotFound, `no viewer ${viewerId} of this connection`);
    return entry;
  }

  viewer(viewerId: string): WebRtcViewer | undefined {
    return this.watching.get(viewerId)?.viewer;
  }

  private injector(viewer: WebRtcViewer, entry: () => Watching | null): InputInjector {
    const backend: InputBackend = {
      keyDown: async (k) => (await this.options.inputBackend()).keyDown(k),
      keyUp: async (k) => (await this.options.inputBackend()).keyUp(k),
      move: async (x, y) => (await this.options.inputBackend()).move(x, y),
      button: async (b, d) => (await this.options.inputBackend()).button(b, d),
      wheel: async (x, y) => (await this.options.inputBackend()).wheel(x, y),
    };
    return new InputInjector(backend, {
      allowed: () => {
        if (!this.options.sharing.sharing) return { ok: false, reason: 'sharing is off' };
        const id = entry()?.sessionId;
        const session = id ? this.options.sessions.list().find((s) => s.id === id) : undefined;
        if (!session || (session.state !== 'running' && session.state !== 'starting') || !session.viewers.includes(viewer.name)) return { ok: false, reason: 'no live session' };
        return { ok: true };
      },
    });
  }

  private input(entry: Watching | null, event: InputEvent): void {
    if (!entry?.injector) return;
    void entry.injector.inject(event).then(
      (result) => {
        // the browser hears when its input starts or stops reaching the desktop (and why), not per event
        const state = result.injected ? 'ok' : result.reason;
        if (state === entry.inputState) return;
        entry.inputState = state;
        entry.viewer.inputState(result.injected, result.injected ? null : result.reason);
      },
      () => undefined,
    );
  }

  handlers(): HandlerGroup<'webrtc.watch' | 'webrtc.answer' | 'webrtc.leave' | 'viewlinks.list' | 'viewlinks.create' | 'viewlinks.revoke'> {
    return {
      'webrtc.watch': (params, ctx) => {
        const { watcher, sessionId, guest } = this.watcherFor(ctx.clientId, ctx.shell);
        // a view link watches what the owner shares: it cannot start a session of its own
        if (guest) {
          // one picture per view link: it cannot take every viewer slot
          if ([...this.watching.values()].some((entry) => entry.clientId === ctx.clientId)) throw new ApiError(ErrorCode.Conflict, 'this view link is already watching');
          return this.watch({ sessionId: this.guestTarget(sessionId) }, ctx.clientId, watcher);
        }
        const { thumbnail, ...target } = params;
        if (thumbnail && !target.sessionId) throw new ApiError(ErrorCode.InvalidParams, 'a thumbnail watches a running session: give its sessionId');
        return this.watch(target, ctx.clientId, thumbnail ? { ...watcher, label: 'thumbnail', input: false, passive: true } : watcher);
      },
      'viewlinks.list': async () => (await this.links?.list()) ?? [],
      'viewlinks.create': (params, ctx) => this.createLink(params, `${ctx.shell}:${ctx.clientId}`),
      'viewlinks.revoke': (params, ctx) => this.revoke(params.id, `${ctx.shell}:${ctx.clientId}`),
      'webrtc.answer': (params, ctx) => this.answer(params.viewerId, params.sdp, ctx.clientId),
      'webrtc.leave': (params, ctx) => this.leave(params.viewerId, ctx.clientId),
    };
  }
}
