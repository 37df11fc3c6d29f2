import type { InputEvent } from '../../../shared/contract/peers';
import type { HostReport, WatchOffer } from '../../../shared/contract/webrtc';
import type { ApiClient } from '../api/client';
import { stampAgeMs } from '../../../shared/stamp-code';
import { StampCanvas } from './stamp-canvas';

/** What the Watch page shows over the picture, and the tests read. */
export interface WatchFigures {
  state: 'connecting' | 'playing' | 'ended';
  /** Frames shown in the last second. */
  fps: number;
  /** Frames shown since the start (presented to the compositor); those read back (one a callback), and of them those with a readable stamp. */
  shown: number;
  callbacks: number;
  stamped: number;
  /** Capture to shown, ms: the last second's median (on the host's clock, through the estimated offset). */
  latencyMs: number | null;
  /** The browser's own counters (getStats): decoded, dropped, and keyframes decoded. */
  framesDecoded: number;
  framesDropped: number;
  keyFramesDecoded: number;
  pliSent: number;
  nackSent: number;
  packetsLost: number;
  /** How stamps are read: the decoded frame's luma (WebCodecs) or a canvas. */
  stampPath: 'luma' | 'canvas';
  inputAllowed: boolean | null;
  inputReason: string | null;
  error: string | null;
}

/** A session by id, a new one, or (a view link) whatever the owner shares. */
export type WatchTarget = { sessionId: string; thumbnail?: boolean } | { start: { width: number; height: number; fps: number; bitrateKbps?: number } } | { shared: true };

function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * One WebRTC viewer of a session in this page: signalling over the API (the authenticated WebSocket),
 * the picture in `video`, each shown frame's stamp read back (requestVideoFrameCallback) and reported to
 * the host, which measures the latency; pings answered for the host's clock estimate; input out on the
 * ordered 'input' channel when the host grants it.
 */
export class WatchClient {
  readonly figures: WatchFigures = {
    state: 'connecting', fps: 0, shown: 0, callbacks: 0, stamped: 0, latencyMs: null, framesDecoded: 0, framesDropped: 0, keyFramesDecoded: 0, pliSent: 0, nackSent: 0, packetsLost: 0,
    stampPath: 'luma', inputAllowed: null, inputReason: null, error: null,
  };
  offer: WatchOffer | null = null;
  private pc: RTCPeerConnection | null = null;
  private report: RTCDataChannel | null = null;
  private input: RTCDataChannel | null = null;
  private readonly stamps = new StampCanvas();
  private pending: [number | null, number][] = [];
  private second: { shown: number; ages: number[] } = { shown: 0, ages: [] };
  /** Our clock minus the host's, as the host estimates it (its pings carry it). */
  private offsetMs = 0;
  private firstPresented: number | undefined;
  private timers: number[] = [];
  private closed = false;
  private unwatchConnection: (() => void) | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly video: HTMLVideoElement,
    private readonly onChange: (figures: WatchFigures) => void = () => undefined,
  ) {}

  async start(target: WatchTarget, rewriteOffer: (sdp: string) => string | Promise<string> = (sdp) => sdp): Promise<WatchOffer> {
    // the host's word on the connection itself (a revoked view link) ends the picture even when its data channel's goes astray
    this.unwatchConnection = this.api.transport.onState((state) => {
      const why = this.api.transport.ended;
      if (state === 'closed' && why) this.end(`the host ended it: ${why}`);
    });
    const offer = await this.api.call('webrtc.watch', 'shared' in target ? {} : target);
    this.offer = offer;
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.ontrack = (event) => {
      // show each frame as soon as it is decoded: no jitter buffer beyond what loss repair needs
      (event.receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null }).jitterBufferTarget = 0;
      this.video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      void this.video.play().catch(() => undefined);
    };
    pc.ondatachannel = (event) => {
      if (event.channel.label === 'report') {
        this.report = event.channel;
        event.channel.onmessage = (message) => this.onHostReport(message.data);
      } else if (event.channel.label === 'input') this.input = event.channel;
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.end(`connection ${pc.connectionState}`);
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: await rewriteOffer(offer.sdp) });
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    await this.api.call('webrtc.answer', { viewerId: offer.viewerId, sdp: pc.localDescription!.sdp });
    this.video.requestVideoFrameCallback((t, m) => this.onFrame(t, m));
    this.timers.push(window.setInterval(() => this.flush(), 100), window.setInterval(() => void this.tick(), 1000));
    return offer;
  }

  private gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = window.setTimeout(resolve, 3000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState !== 'complete') return;
        window.clearTimeout(timer);
        resolve();
      });
    });
  }

  private onFrame(_now: number, metadata: VideoFrameCallbackMetadata): void {
    if (this.closed) return;
    this.video.requestVideoFrameCallback((t, m) => this.onFrame(t, m));
    // when the frame reaches the glass, on the wall clock
    const shownAt = performance.timeOrigin + metadata.expectedDisplayTime;
    void this.stamps.read(this.video).then((stamp) => this.shown(stamp, shownAt, metadata), () => this.shown(null, shownAt, metadata));
  }

  private shown(stamp: number | null, shownAt: number, metadata: VideoFrameCallbackMetadata): void {
    if (this.closed) return;
    // frames given to the compositor (a callback may come once for several when the page is busy)
    const presented = metadata.presentedFrames - (this.firstPresented ??= metadata.presentedFrames - 1);
    this.second.shown += Math.max(1, presented - this.figures.shown);
    this.figures.shown = Math.max(this.figures.shown + 1, presented);
    this.figures.callbacks += 1;
    if (stamp !== null) {
      this.figures.stamped += 1;
      this.second.ages.push(stampAgeMs(stamp, shownAt - this.offsetMs));
    }
    if (this.figures.state === 'connecting') {
      this.figures.state = 'playing';
      this.onChange(this.figures);
    }
    this.figures.stampPath = this.stamps.path;
    this.pending.push([stamp, shownAt]);
  }

  private flush(): void {
    if (this.pending.length === 0 || this.report?.readyState !== 'open') return;
    this.report.send(JSON.stringify({ t: 'frames', frames: this.pending.splice(0, 480) }));
  }

  private onHostReport(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: HostReport;
    try {
      message = JSON.parse(data) as HostReport;
    } catch {
      return;
    }
    if (message.t === 'ping') {
      this.report?.send(JSON.stringify({ t: 'pong', id: message.id, at: now() }));
      if (message.offsetMs !== null) this.offsetMs = message.offsetMs;
    }
    else if (message.t === 'end') this.end(`the host ended it: ${message.reason}`);
    else if (message.t === 'input') {
      this.figures.inputAllowed = message.allowed;
      this.figures.inputReason = message.reason;
    }
  }

  /** Once a second: fps, latency median, and the browser's own receive counters. */
  private async tick(): Promise<void> {
    const ages = this.second.ages.sort((a, b) => a - b);
    this.figures.fps = this.second.shown;
    this.figures.latencyMs = ages.length > 0 ? Math.round(ages[Math.floor(ages.length / 2)]! * 10) / 10 : null;
    this.second = { shown: 0, ages: [] };
    await this.readStats();
    this.onChange(this.figures);
  }

  /** The browser's receive counters now (getStats), into the figures. */
  async readStats(): Promise<WatchFigures> {
    const stats = await this.pc?.getStats().catch(() => null);
    stats?.forEach((entry: Record<string, unknown>) => {
      if (entry.type !== 'inbound-rtp' || entry.kind !== 'video') return;
      this.figures.framesDecoded = Number(entry.framesDecoded ?? 0);
      this.figures.framesDropped = Number(entry.framesDropped ?? 0);
      this.figures.keyFramesDecoded = Number(entry.keyFramesDecoded ?? 0);
      this.figures.pliSent = Number(entry.pliCount ?? 0);
      this.figures.nackSent = Number(entry.nackCount ?? 0);
      this.figures.packetsLost = Number(entry.packetsLost ?? 0);
    });
    return { ...this.figures };
  }

  sendInput(event: InputEvent): boolean {
    if (this.input?.readyState !== 'open') return false;
    this.input.send(JSON.stringify(event));
    return true;
  }

  end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatchConnection?.();
    for (const timer of this.timers) window.clearInterval(timer);
    this.figures.state = 'ended';
    this.figures.error = reason;
    if (this.offer) void this.api.call('webrtc.leave', { viewerId: this.offer.viewerId }).catch(() => undefined);
    this.pc?.close();
    this.onChange(this.figures);
  }
}
