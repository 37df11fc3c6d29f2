import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCRtpCodecParameters, useSdesMid, type RTCDataChannel, type RTCRtpSender, type RTCRtpTransceiver } from 'werift';
import { InputEvent } from '../../shared/contract/peers';
import { ViewerReport, type HostReport } from '../../shared/contract/webrtc';
import { preciseNow } from '../pairing/channel';
import { BROWSER_VIEWER } from '../../shared/transports';
import type { StreamShape } from '../sessions/sender-transport';
import type { RtpViewerSink, ViewerLink } from '../sessions/viewer-link';
import { h264LevelFor } from './h264-profile';
import { PLAYOUT_DELAY, playoutDelayId } from './playout-delay';
import { ViewerClock } from './viewer-clock';
import { WebRtcMediaSender } from './webrtc-media-sender';

export interface WebRtcViewerOptions {
  name: string;
  /** UDP ports ICE may bind (fixed, so a firewall can open them). */
  portRange: [number, number];
  /** Host addresses to offer beyond the interfaces' (loopback, when the web shell serves loopback). */
  extraHostAddresses?: string[];
  /** The target bitrate: the NACK history covers a second of it. */
  bitrateKbps: number;
  /** Called with each input event from the browser (validated); absent: input is not offered. */
  onInput?: (event: InputEvent) => void;
  gatherTimeoutMs?: number;
  /** A live thumbnail (see ViewerLink.passive). */
  passive?: boolean;
  /** The stream's size and rate where known: the offer names the H.264 level it needs. */
  shape?: { width: number; height: number; fps: number };
}

const PING_INTERVAL_MS = 500;

/**
 * H.264 as our encoders send it (at the level the stream's size and rate need, the browser's own level
 * free; FU-A packets), each profile its own payload type, so a browser that accepts only one of them still
 * matches: constrained baseline (libx264's, which
 * is also a baseline and a main stream) and main (NVENC's). The sender picks the accepted one that fits
 * the stream's own SPS (WebRtcMediaSender).
 */
const H264_PROFILES = [
  { payloadType: 96, profile: '42e0' },
  { payloadType: 97, profile: '4200' },
  { payloadType: 98, profile: '4d00' },
];

/** The H.264 codecs offered, at the level the stream needs (3.1 where its shape is not known). */
function h264Codecs(shape: { width: number; height: number; fps: number } | undefined): RTCRtpCodecParameters[] {
  const level = (shape ? h264LevelFor(shape.width, shape.height, shape.fps) : 31).toString(16).padStart(2, '0');
  return H264_PROFILES.map(({ payloadType, profile }) => new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    payloadType,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `profile-level-id=${profile}${level};packetization-mode=1;level-asymmetry-allowed=1`,
  }));
}

/**
 * One browser watching a session over WebRTC (a `ViewerLink` the session treats like any viewer). The
 * host offers a send-only H.264 track and two ordered data channels: 'report' (the browser's shown
 * frames with their stamps, and pings for its clock) and 'input' (InputEvents). Signalling is the
 * caller's (the authenticated WebSocket). Events as ViewerLink: 'frames', 'gone'.
 */
export class WebRtcViewer extends EventEmitter implements ViewerLink {
  readonly name: string;
  readonly passive: boolean;
  private readonly pc: RTCPeerConnection;
  private readonly rtpSender: RTCRtpSender;
  private readonly transceiver: RTCRtpTransceiver;
  private readonly report: RTCDataChannel;
  private readonly input: RTCDataChannel | null;
  private readonly clockEstimate = new ViewerClock();
  private media: WebRtcMediaSender | null = null;
  private pinger: NodeJS.Timeout | null = null;
  private ended = false;
  private playoutDelayId: number | null = null;
  /** Reports from the browser that failed validation (dropped). */
  rejected = 0;

  constructor(private readonly options: WebRtcViewerOptions) {
    super();
    this.name = options.name;
    this.passive = options.passive ?? false;
    this.pc = new RTCPeerConnection({
      codecs: { video: h264Codecs(options.shape), audio: [] },
      headerExtensions: { video: [useSdesMid(), PLAYOUT_DELAY], audio: [] },
      icePortRange: options.portRange,
      iceAdditionalHostAddresses: options.extraHostAddresses,
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
    });
    this.transceiver = this.pc.addTransceiver('video', { direction: 'sendonly' });
    this.rtpSender = this.transceiver.sender;
    this.report = this.pc.createDataChannel('report', { ordered: true });
    this.input = options.onInput ? this.pc.createDataChannel('input', { ordered: true }) : null;
    this.report.onMessage.subscribe((data) => this.onReport(data));
    this.input?.onMessage.subscribe((data) => this.onInput(data));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.onConnected();
      if (state === 'failed' || state === 'closed' || state === 'disconnected') this.end(`the browser's connection is ${state}`);
    });
  }

  /** The host's offer with its candidates (gathered before it is sent: no trickle). */
  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    if (this.pc.iceGatheringState !== 'complete') {
      const timeoutMs = this.options.gatherTimeoutMs ?? 5000;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`ICE gathering did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
        const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
          if (state !== 'complete') return;
          clearTimeout(timer);
          unSubscribe();
          resolve();
        });
      });
    }
    const sdp = this.pc.localDescription!.sdp;
    this.playoutDelayId = playoutDelayId(sdp);
    return sdp;
  }

  async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  open(): Promise<{ host: string; port: number }> {
    return Promise.reject(new Error('a WebRTC viewer carries RTP itself (rtpSink), over rtp only'));
  }

  async rtpSink(shape: StreamShape): Promise<RtpViewerSink> {
    if (!(BROWSER_VIEWER.codecs as readonly string[]).includes(shape.codec)) throw new Error(`a browser decodes ${BROWSER_VIEWER.codecs.join(' or ')} over WebRTC here, not ${shape.codec}`);
    this.media?.close();
    // the H.264 payload types in the browser's answer (werift keeps other kinds, such as rtx, out: none offered)
    const accepted = () => this.transceiver.codecs.filter((codec) => codec.mimeType.toLowerCase() === 'video/h264');
    this.media = new WebRtcMediaSender(this.rtpSender, this.options.bitrateKbps, () => this.clockEstimate.estimate.rttMs, this.playoutDelayId, accepted);
    this.media.on('unfit', (why: string) => this.end(why));
    if (this.pc.connectionState === 'connected') this.media.connectedNow();
    return this.media;
  }

  get sender(): WebRtcMediaSender | null {
    return this.media;
  }

  async close(_streamId: string, reason: string): Promise<void> {
    this.end(reason);
  }

  clock(): { offsetMs: number | null; rttMs: number | null } {
    return this.clockEstimate.estimate;
  }

  /** Tells the browser whether its input reaches the desktop now (scope, sharing, kill switch). */
  inputState(allowed: boolean, reason: string | null): void {
    this.send({ t: 'input', allowed, reason });
  }

  private onConnected(): void {
    this.media?.connectedNow();
    if (this.pinger) return;
    this.pinger = setInterval(() => this.send({ t: 'ping', id: this.clockEstimate.ping(preciseNow()), offsetMs: this.clockEstimate.estimate.offsetMs }), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  private send(message: HostReport): void {
    if (this.report.readyState === 'open') this.report.send(JSON.stringify(message));
  }

  private parse(data: string | Buffer): unknown {
    if (data.length > 32_000) return undefined;
    try {
      return JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    } catch {
      return undefined;
    }
  }

  private onReport(data: string | Buffer): void {
    const parsed = ViewerReport.safeParse(this.parse(data));
    if (!parsed.success) {
      this.rejected += 1;
      return;
    }
    const report = parsed.data;
    if (report.t === 'pong') this.clockEstimate.pong(report.id, report.at, preciseNow());
    else this.emit('frames', report.frames.map(([stampMs, decodedAt]) => ({ stampMs, decodedAt })));
  }

  private onInput(data: string | Buffer): void {
    const parsed = InputEvent.safeParse(this.parse(data));
    if (!parsed.success) {
      this.rejected += 1;
      return;
    }
    this.options.onInput?.(parsed.data);
  }

  /** The browser left (or we end it): the session drops this viewer. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pinger) clearInterval(this.pinger);
    this.media?.close();
    // the browser hears why before the connection goes (a closed connection alone reads as a network fault)
    this.send({ t: 'end', reason: reason.slice(0, 300) });
    setTimeout(() => void this.pc.close().catch(() => undefined), 200).unref();
    this.emit('gone', reason);
  }
}
