import { randomUUID } from 'node:crypto';
import type { InputEvent } from '../../shared/contract/peers';
import type { WatchOffer } from '../../shared/contract/webrtc';
import { ApiError, ErrorCode } from '../../shared/errors';
import { InputInjector, type InputBackend } from '../input/injector';
import type { HandlerGroup } from '../rpc/handlers';
import type { SessionManager } from '../sessions/session-manager';
import type { SharingService } from '../sharing/sharing-service';
import { defaultBitrateKbps } from '../sessions/selftest';
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
}

/** Who watches: the web shell's owner (input granted), or a view link's holder (input only if the link grants it). */
export interface Watcher {
  who: string;
  /** Name in the session's viewer list. */
  label: string;
  input: boolean;
}

interface Watching {
  viewer: WebRtcViewer;
  sessionId: string | null;
  clientId: string;
  injector: InputInjector | null;
}

/**
 * Browsers watching sessions over WebRTC (one more kind of viewer): `webrtc.watch` makes the viewer,
 * joins or starts its session, and answers the host's SDP offer; `webrtc.answer` completes it.
 * Input from the browser goes through the same injector as a peer's (scope gate, rate limit, kill switch).
 */
export class WebRtcService {
  private readonly watching = new Map<string, Watching>();

  constructor(private readonly options: WebRtcServiceOptions) {
    options.sharing.onKill(() => {
      for (const entry of this.watching.values()) void entry.injector?.releaseAll();
    });
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
        : await this.options.sessions.startFor(viewer, { ...params.start!, codec: 'h264', transport: 'rtp' }, watcher.who, watcher.input);
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
      (result) => entry.viewer.inputState(result.injected, result.injected ? null : result.reason),
      () => undefined,
    );
  }

  handlers(): HandlerGroup<'webrtc.watch' | 'webrtc.answer' | 'webrtc.leave'> {
    return {
      'webrtc.watch': (params, ctx) => this.watch(params, ctx.clientId, { who: `${ctx.shell}:${ctx.clientId}`, label: 'browser', input: true }),
      'webrtc.answer': (params, ctx) => this.answer(params.viewerId, params.sdp, ctx.clientId),
      'webrtc.leave': (params, ctx) => this.leave(params.viewerId, ctx.clientId),
    };
  }
}
