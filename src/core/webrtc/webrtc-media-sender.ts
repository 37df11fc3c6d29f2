import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RtpHeader, RtpPacket, RtcpPayloadSpecificFeedback, type RTCRtpCodecParameters, type RTCRtpSender, type RtcpPacket } from 'werift';
import type { RtpViewerSink } from '../sessions/viewer-link';
import { KeyframeThrottle } from './keyframe-throttle';
import { historyPackets, RtpHistory } from './rtp-history';
import { codecFor, codecProfile, h264Profile, spsProfileLevelId } from './h264-profile';

/** werift's sender answers NACKs itself from the last 128 packets it sent; older ones are ours to answer. */
const WERIFT_CACHE = 128;
/** Retransmissions allowed per second (a NACK storm must not multiply the stream). */
const RETRANSMIT_PER_SECOND = 400;
/** The playout-delay extension's value, min 0 and max 0 (12 bits each): show frames at once. */
const PLAYOUT_ZERO = Buffer.alloc(3);
/** RFC 5104 FIR: payload-specific feedback, format 4. */
const FIR_FORMAT = 4;
/** Packets of one frame held while its SPS is looked for (a 4K keyframe is some 400). */
const HELD_MAX = 2000;

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
  /** The stream's profile-level-id, from its first SPS: it picks the payload type (null: none seen yet). */
  private streamProfileLevelId: string | null = null;
  /** The frame's packets so far while no SPS has been seen: sent once one names a profile the browser accepted. */
  private held: { payload: Buffer; marker: boolean; timestamp: number }[] = [];

  constructor(
    private readonly sender: RTCRtpSender,
    bitrateKbps: number,
    private readonly rtt: () => number | null,
    /** The negotiated id of the playout-delay extension (null: not offered). */
    private readonly playoutDelayId: number | null = null,
    /** The H.264 payload types the browser accepted (its answer); empty: werift's choice stands. */
    private readonly accepted: () => readonly RTCRtpCodecParameters[] = () => [],
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

  /** The profile-level-id the stream's SPS carries, once seen. */
  get profileLevelId(): string | null {
    return this.streamProfileLevelId;
  }

  packet(payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number): void {
    if (this.closed || !this.connected) return;
    if (this.streamProfileLevelId === null) {
      this.holdUntilSps(payload, marker, frameStart, timestamp);
      return;
    }
    if (frameStart) this.synced = true;
    if (!this.synced) return;
    this.send(payload, marker, timestamp);
  }

  /**
   * Before the first SPS: a frame's packets are held, and the SPS's profile picks the payload type the
   * browser accepted for it (werift sends under the one it negotiated first, which may name a profile
   * whose decoder cannot decode this stream); no payload type fits: 'unfit', with why.
   */
  private holdUntilSps(payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number): void {
    if (frameStart) this.held = [];
    if (frameStart || this.held.length > 0) this.held.push({ payload, marker, timestamp });
    if (this.held.length > HELD_MAX) this.held = [];
    const found = spsProfileLevelId(payload);
    if (found === null) {
      if (marker) this.held = [];
      return;
    }
    const profile = h264Profile(found);
    const accepted = this.accepted();
    if (accepted.length > 0) {
      const codec = profile === null ? null : codecFor(accepted, profile);
      if (!codec) {
        const offered = accepted.map((c) => `${codecProfile(c) ?? 'unknown'} (${/profile-level-id=(\w+)/.exec(c.parameters ?? '')?.[1] ?? '42000a'})`).join(', ');
        this.held = [];
        this.closed = true;
        this.emit('unfit', `the encoder sends H.264 ${profile ?? 'of an unknown profile'} (${found}); this browser accepted only ${offered}`);
        return;
      }
      // werift stamps its sender's codec's payload type on every packet (and on its NACK answers)
      this.sender.codec = codec;
    }
    this.streamProfileLevelId = found;
    const held = this.held;
    this.held = [];
    if (held.length === 0) return;
    this.synced = true;
    for (const packet of held) this.send(packet.payload, packet.marker, packet.timestamp);
  }

  private send(payload: Buffer, marker: boolean, timestamp: number): void {
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
