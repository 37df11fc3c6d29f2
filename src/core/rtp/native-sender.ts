import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { freeUdpPort } from '../net/free-udp-port';
import { preciseNow } from '../pairing/channel';
import { readNativeEvents } from './native-events';
import type { NativeRtp, NativeTxStats, NativeTxViewerStats } from './native-rtp-lib';
import { pacingFactorFromEnv, type PacingSettings } from './pacer';
import type { RtpFanOut, RtpViewerSender } from './rtp-output';
import { REPORT_INTERVAL_MS, type SenderCounters } from './rtp-peer-sender';
import type { RtpKeys } from './rtp-keys';
import { SenderFeedback } from './sender-feedback';
import { deriveSessionKeys, SrtpProtector } from './srtp-gcm';

const EVENT_RTCP = 1;
const EVENT_SWITCHED = 2;
const EVENT_PAYLOAD = 3;
const PAYLOAD_HEAD_BYTES = 8;

/**
 * The host's fan-out on the sender's native data plane (native/rtp/sender.c): the same as RtpOutput with
 * RtpPeerSender behind it, but the encoder runs' packets, the frames' timestamps, and each of our viewers'
 * SRTP, FEC, pacing and resends run on a thread of its own, so a busy event loop here cannot stall a
 * frame half sent. This process keeps the encoder runs, each viewer's RTCP (NativeRtpPeerSender), and
 * the viewers that carry RTP themselves (a browser's WebRTC track), which get every payload from the
 * thread as an event. Events as RtpOutput's: 'switched' (id of the source replaced, or null).
 */
export class NativeRtpOutput extends EventEmitter implements RtpFanOut {
  private tx: unknown;
  private readonly viewers = new Map<string, RtpViewerSender>();
  /** Our native viewers by their id in the data plane, for the RTCP it passes up. */
  private readonly byId = new Map<number, NativeRtpPeerSender>();
  private jsViewers = 0;
  private readonly events: Socket;
  private readonly stats: Partial<NativeTxStats> = {};
  private closed = false;

  constructor(private readonly lib: NativeRtp) {
    super();
    const err = Buffer.alloc(512);
    // the frames' timestamps on preciseNow's clock (rtpClock of it, as RtpOutput and the sender reports use)
    const tx = lib.txNew(preciseNow() - lib.now(), err, err.length);
    if (!tx) throw new Error(`the native rtp sender could not start: ${err.toString('utf8', 0, Math.max(0, err.indexOf(0)))}`);
    this.tx = tx;
    this.events = readNativeEvents(lib.txEventFd(tx), (type, body) => this.onEvent(type, body));
  }

  get framesSent(): number {
    return this.readStats().frames;
  }

  get counters(): { sourceLost: number; framesCut: number } {
    const s = this.readStats();
    return { sourceLost: s.source_lost, framesCut: s.frames_cut };
  }

  /** Our encrypted sender to a peer's receiver, its packets sent from the data plane's thread. */
  peerSender(target: { host: string; port: number }, keys: RtpKeys, payloadType: number, pacing: PacingSettings | null = null): NativeRtpPeerSender {
    if (this.closed) throw new Error('the native rtp sender is closed');
    return new NativeRtpPeerSender(this.lib, this.tx, target, keys, payloadType, pacing, {
      live: () => !this.closed,
      opened: (id, sender) => this.byId.set(id, sender),
      closed: (id) => {
        this.byId.delete(id);
        if (!this.closed) this.lib.txRemoveViewer(this.tx, id);
      },
    });
  }

  addViewer(name: string, sender: RtpViewerSender): void {
    this.removeViewer(name);
    this.viewers.set(name, sender);
    if (!(sender instanceof NativeRtpPeerSender)) this.setJsViewers(this.jsViewers + 1);
  }

  removeViewer(name: string): RtpViewerSender | undefined {
    const sender = this.viewers.get(name);
    if (!sender) return undefined;
    this.viewers.delete(name);
    if (!(sender instanceof NativeRtpPeerSender)) this.setJsViewers(this.jsViewers - 1);
    return sender;
  }

  viewer(name: string): RtpViewerSender | undefined {
    return this.viewers.get(name);
  }

  setTargetKbps(targetKbps: number, fps: number, linkKbps: number | null = null): void {
    for (const sender of this.viewers.values()) sender.setPacingTarget?.({ targetKbps, fps, linkKbps });
  }

  async openSource(armed = true): Promise<{ id: number; port: number; fromPort: number }> {
    // the encoder sends from this port (its `localport`), and the source takes datagrams from it alone
    const fromPort = await freeUdpPort('127.0.0.1');
    if (this.closed) throw new Error('the native rtp sender is closed');
    const port = new Int32Array(1);
    const id = this.lib.txOpenSource(this.tx, fromPort, armed, port);
    if (id < 0) throw new Error('the native rtp sender could not open a loopback source for the encoder (more than 8 runs at once, or no socket)');
    return { id, port: port[0]!, fromPort };
  }

  arm(id: number): void {
    if (!this.closed) this.lib.txArm(this.tx, id);
  }

  dropSource(id: number): void {
    if (!this.closed) this.lib.txDropSource(this.tx, id);
  }

  isActive(id: number): boolean {
    return !this.closed && this.lib.txIsActive(this.tx, id);
  }

  get switching(): boolean {
    return !this.closed && this.lib.txSwitching(this.tx);
  }

  private setJsViewers(count: number): void {
    this.jsViewers = Math.max(0, count);
    if (!this.closed) this.lib.txSetJsViewers(this.tx, this.jsViewers);
  }

  /** The data plane's counters now (after its close, as they were then). */
  private readStats(): NativeTxStats {
    if (!this.closed) this.lib.txStats(this.tx, this.stats);
    return { frames: 0, source_lost: 0, frames_cut: 0, oversized: 0, events_dropped: 0, ...this.stats };
  }

  private onEvent(type: number, body: Buffer): void {
    if (this.closed) return;
    if (type === EVENT_RTCP && body.length >= 4) {
      this.byId.get(body.readUInt32LE(0))?.heard(body.subarray(4));
    } else if (type === EVENT_SWITCHED && body.length >= 4) {
      const old = body.readInt32LE(0);
      this.emit('switched', old < 0 ? null : old);
    } else if (type === EVENT_PAYLOAD && body.length >= PAYLOAD_HEAD_BYTES) {
      const payload = Buffer.from(body.subarray(PAYLOAD_HEAD_BYTES));
      const marker = body[0] === 1;
      const frameStart = body[1] === 1;
      const timestamp = body.readUInt32LE(4);
      for (const sender of this.viewers.values()) if (!(sender instanceof NativeRtpPeerSender)) sender.packet(payload, marker, frameStart, timestamp);
    }
  }

  close(): void {
    if (this.closed) return;
    this.readStats();
    for (const sender of this.viewers.values()) sender.close();
    this.viewers.clear();
    for (const sender of [...this.byId.values()]) sender.close();
    this.closed = true;
    this.lib.txClose(this.tx);
    this.tx = null;
    this.events.destroy();
  }
}

/**
 * One viewer's encrypted RTP stream from the native data plane: RtpPeerSender's counterpart, its packets
 * sealed, FEC'd, paced and resent on the data plane's thread. Here: its RTCP (SenderFeedback: the RTT,
 * the FEC share, NACKs passed down as resends, PLI as a 'keyframe' event, RR as 'feedback') and its sender
 * reports every half second. `packet` does nothing: the data plane feeds it.
 */
export class NativeRtpPeerSender extends EventEmitter implements RtpViewerSender {
  private id = -1;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private readonly feedback: SenderFeedback;
  /** The FEC share, held to the link's random loss while its queue is full (FecOverhead), pushed down as it changes. */
  readonly fec: { readonly ratio: number; hold(randomLoss: number): void; release(): void };
  private readonly protector: SrtpProtector;
  private readonly pacingFactor: number | null;
  private readonly stats: Partial<NativeTxViewerStats> = {};
  private timer: NodeJS.Timeout | null = null;
  private sentRatio = -1;
  private closed = false;

  constructor(
    private readonly lib: NativeRtp,
    private readonly tx: unknown,
    private readonly target: { host: string; port: number },
    private readonly keys: RtpKeys,
    private readonly payloadType: number,
    private readonly pacing: PacingSettings | null,
    /** The output it belongs to: whether its data plane is still there, and its list of viewers by id. */
    private readonly registry: { live(): boolean; opened(id: number, sender: NativeRtpPeerSender): void; closed(id: number): void },
  ) {
    super();
    this.pacingFactor = pacing ? (pacing.factor ?? pacingFactorFromEnv()) : null;
    this.protector = new SrtpProtector(keys.media);
    this.feedback = new SenderFeedback(keys.feedback, this.ssrc, {
      resend: (seqs) => {
        if (this.usable && seqs.length > 0) this.lib.txResend(this.tx, this.id, Uint16Array.from(seqs), seqs.length);
      },
      keyframe: () => this.emit('keyframe'),
      feedback: (feedback) => {
        this.pushFecRatio();
        this.emit('feedback', feedback);
      },
      reportNow: () => this.report(),
    });
    const overhead = this.feedback.fec;
    this.fec = {
      get ratio() {
        return overhead.ratio;
      },
      hold: (randomLoss) => {
        overhead.hold(randomLoss);
        this.pushFecRatio();
      },
      release: () => {
        overhead.release();
        this.pushFecRatio();
      },
    };
  }

  /** Opens its socket (connected to the peer's receiver) in the data plane, and sends the first report. */
  async start(): Promise<void> {
    if (this.closed || this.id > 0 || !this.registry.live()) throw new Error('the native rtp sender was started already or is closed');
    const session = deriveSessionKeys(this.keys.media);
    const err = Buffer.alloc(512);
    const random = randomBytes(4);
    const id = this.lib.txAddViewer(this.tx, {
      host: this.target.host, port: this.target.port, key: session.rtpKey, salt: session.rtpSalt,
      ssrc: this.ssrc, fec_ssrc: (this.ssrc ^ 0x5a5a5a5a) >>> 0, seq: random.readUInt16BE(0) & 0x7fff, fec_seq: random.readUInt16BE(2) & 0x7fff,
      payload_type: this.payloadType, fec_ratio: this.feedback.fec.ratio, pacing_factor: this.pacingFactor ?? 0,
      target_kbps: this.pacing?.targetKbps ?? 0, fps: this.pacing?.fps ?? 0, link_kbps: this.pacing?.linkKbps ?? 0,
    }, err, err.length);
    if (id < 0) throw new Error(`the native rtp sender could not open a stream to ${this.target.host}:${this.target.port}: ${err.toString('utf8', 0, Math.max(0, err.indexOf(0)))}`);
    this.id = id;
    this.sentRatio = this.feedback.fec.ratio;
    this.registry.opened(id, this);
    this.timer = setInterval(() => this.report(), REPORT_INTERVAL_MS);
    this.timer.unref();
    this.report();
  }

  get rttMs(): number | null {
    return this.feedback.rttMs;
  }

  get counters(): SenderCounters {
    const s = this.readStats();
    return {
      packetsSent: s.packets_sent ?? 0, bytesSent: s.bytes_sent ?? 0, fecPacketsSent: s.fec_packets_sent ?? 0, retransmitted: s.retransmitted ?? 0,
      ...this.feedback.counters,
    };
  }

  setPacingTarget(settings: { targetKbps: number; fps: number; linkKbps?: number | null }): void {
    if (this.pacingFactor !== null && this.usable) this.lib.txSetPacing(this.tx, this.id, settings.targetKbps, settings.fps, settings.linkKbps ?? 0);
  }

  /** Started, not closed, and its data plane still there. */
  private get usable(): boolean {
    return this.id > 0 && !this.closed && this.registry.live();
  }

  /** The data plane feeds this viewer itself. */
  packet(): void {}

  /** An RTCP datagram from the peer, as the data plane passed it up. */
  heard(data: Buffer): void {
    if (!this.closed) this.feedback.heard(data);
  }

  private pushFecRatio(): void {
    const ratio = this.feedback.fec.ratio;
    if (ratio === this.sentRatio || !this.usable) return;
    this.sentRatio = ratio;
    this.lib.txSetFecRatio(this.tx, this.id, ratio);
  }

  private readStats(): Partial<NativeTxViewerStats> {
    if (this.usable) this.lib.txViewerStats(this.tx, this.id, this.stats);
    return this.stats;
  }

  private report(): void {
    if (!this.usable) return;
    const s = this.readStats();
    const sealed = this.protector.protectRtcp(this.feedback.report({ packetCount: s.packets_sent ?? 0, octetCount: s.bytes_sent ?? 0 }));
    this.lib.txSendNow(this.tx, this.id, sealed, sealed.length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.id > 0) this.registry.closed(this.id);
  }
}

