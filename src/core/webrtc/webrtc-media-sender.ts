import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RtpHeader, RtpPacket, RtcpPayloadSpecificFeedback, type RTCRtpSender, type RtcpPacket } from 'werift';
import type { RtpViewerSink } from '../sessions/viewer-link';
import { KeyframeThrottle } from './keyframe-throttle';
import { historyPackets, RtpHistory } from './rtp-history';

/** werift's sender answers NACKs itself from the last 128 packets it sent; older ones are ours to answer. */
const WERIFT_CACHE = 128;
/** Retransmissions allowed per second (a NACK storm must not multiply the stream). */
const RETRANSMIT_PER_SECOND = 400;
/** The playout-delay extension's value, min 0 and max 0 (12 bits each): show frames at once. */
const PLAYOUT_ZERO = Buffer.alloc(3);
/** RFC 5104 FIR: payload-specific feedback, format 4. */
const FIR_FORMAT = 4;

export interface WebRtcSenderCounters {
  packetsSent: number;
  nacksReceived: number;
  /** Answered from our history (werift answered the newest 128 itself). */
  retransmitted: number;
  /** Asked for but no longer kept (or over the resend rate). */
  notResent: number;
  keyframeRequests: number;
  keyframeRequestsPassed: number;
}

/**
 * The encoder's RTP payloads into one browser's WebRTC video track, as they are (no re-encoding):
 * our continuous sequence and 90 kHz timestamps from the session's fan-out, werift's SSRC, SRTP and
 * header extensions. A PLI or FIR becomes a 'keyframe' event, at most one per 250 ms; NACKs are
 * answered from a history covering at least a second at the target bitrate.
 */
export class WebRtcMediaSender extends EventEmitter implements RtpViewerSink {
  readonly counters: WebRtcSenderCounters = { packetsSent: 0, nacksReceived: 0, retransmitted: 0, notResent: 0, keyframeRequests: 0, keyframeRequestsPassed: 0 };
  readonly history: RtpHistory<RtpPacket>;
  private seq = randomBytes(2).readUInt16BE(0) & 0x7fff;
  private synced = false;
  private connected = false;
  private closed = false;
  private readonly throttle = new KeyframeThrottle();
  private tokens = RETRANSMIT_PER_SECOND;
  private tokensAt = Date.now();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly sender: RTCRtpSender,
    bitrateKbps: number,
    private readonly rtt: () => number | null,
    /** The negotiated id of the playout-delay extension (null: not offered). */
    private readonly playoutDelayId: number | null = null,
  ) {
    super();
    this.history = new RtpHistory(historyPackets(bitrateKbps));
    this.unsubscribe.push(
      sender.onPictureLossIndication.subscribe(() => this.keyframeRequested()).unSubscribe,
      sender.onGenericNack.subscribe((nack) => this.onNack(nack.lost)).unSubscribe,
      sender.onRtcp.subscribe((packet) => this.onRtcp(packet)).unSubscribe,
    );
  }

  get rttMs(): number | null {
    return this.rtt();
  }

  /** DTLS is up: from the next frame on, packets go out; a keyframe gives the browser a start. */
  connectedNow(): void {
    this.connected = true;
    this.synced = false;
    this.keyframeRequested();
  }

  packet(payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number): void {
    if (this.closed || !this.connected) return;
    if (frameStart) this.synced = true;
    if (!this.synced) return;
    const packet = new RtpPacket(new RtpHeader({ sequenceNumber: this.seq, timestamp, marker, payloadType: 96, extensions: this.playoutDelayId === null ? [] : [{ id: this.playoutDelayId, payload: PLAYOUT_ZERO }] }), payload);
    this.seq = (this.seq + 1) & 0xffff;
    // werift rewrites the header (its SSRC, payload type, extensions) before its first await: keep it by the sequence number sent
    void this.sender.sendRtp(packet).catch(() => undefined);
    this.history.put(packet.header.sequenceNumber, packet);
    this.counters.packetsSent += 1;
  }

  private keyframeRequested(): void {
    this.counters.keyframeRequests += 1;
    if (!this.throttle.take()) return;
    this.counters.keyframeRequestsPassed += 1;
    this.emit('keyframe');
  }

  private onRtcp(packet: RtcpPacket): void {
    if (packet.type === RtcpPayloadSpecificFeedback.type && (packet as RtcpPayloadSpecificFeedback).feedback?.count === FIR_FORMAT) this.keyframeRequested();
  }

  private onNack(lost: number[]): void {
    if (this.closed) return;
    this.counters.nacksReceived += 1;
    for (const seq of lost) {
      const age = this.history.age(seq);
      if (age !== null && age < WERIFT_CACHE) continue;
      const kept = this.history.get(seq);
      if (!kept || !this.takeToken()) {
        this.counters.notResent += 1;
        continue;
      }
      this.counters.retransmitted += 1;
      void this.sender.dtlsTransport.sendRtp(kept.payload, kept.header).catch(() => undefined);
    }
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(RETRANSMIT_PER_SECOND, this.tokens + ((now - this.tokensAt) / 1000) * RETRANSMIT_PER_SECOND);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
  }
}
