import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { freeUdpPort } from '../net/free-udp-port';
import { preciseNow } from '../pairing/channel';
import { rtpClock, VIDEO_CLOCK_RATE } from './rtp-clock';
import { isRtcp, parseRtpHeader } from './rtp-packet';
import type { PacingSettings } from './pacer';
import type { RtpKeys } from './rtp-keys';
import { RtpPeerSender } from './rtp-peer-sender';
import { UdpBatchReceiver } from './udp-batch';

/**
 * What the fan-out hands each viewer's payloads to: our encrypted sender (RtpPeerSender) or another
 * transport that carries RTP itself (the WebRTC viewer's track).
 */
export interface RtpViewerSender {
  packet(payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number): void;
  close(): void;
  readonly rttMs: number | null;
  /** Our own sender's FEC share, held to the link's random loss while its queue is full (absent where the viewer's transport repairs by itself). */
  readonly fec?: { readonly ratio: number; hold(randomLoss: number): void; release(): void };
  /** Our own sender's pace follows bitrate steps (absent where the viewer's transport paces itself). */
  setPacingTarget?(settings: { targetKbps: number; fps: number; linkKbps?: number | null }): void;
}

/** The host's fan-out, in JavaScript (RtpOutput) or on the sender's native data plane (NativeRtpOutput). */
export interface RtpFanOut extends EventEmitter {
  readonly counters: { sourceLost: number; framesCut: number };
  /** Frames that began going out to the viewers. */
  readonly framesSent: number;
  /** Our encrypted sender to a peer's receiver, of the kind this fan-out feeds (start it, then addViewer). */
  peerSender(target: { host: string; port: number }, keys: RtpKeys, payloadType: number, pacing?: PacingSettings | null): RtpViewerSender & EventEmitter & { start(): Promise<void> };
  addViewer(name: string, sender: RtpViewerSender): void;
  removeViewer(name: string): RtpViewerSender | undefined;
  viewer(name: string): RtpViewerSender | undefined;
  setTargetKbps(targetKbps: number, fps: number, linkKbps?: number | null): void;
  openSource(armed?: boolean): Promise<{ id: number; port: number; fromPort: number }>;
  arm(id: number): void;
  dropSource(id: number): void;
  isActive(id: number): boolean;
  readonly switching: boolean;
  close(): void;
}

interface Source {
  id: number;
  socket: Socket;
  port: number;
  /** Between a frame's first packet and its marker. */
  midFrame: boolean;
  /** Packets that came before this source could take over (the old one was mid-frame). */
  queued: { payload: Buffer; marker: boolean }[];
  /** The encoder's next RTP sequence number, null before its first packet. */
  nextSeq: number | null;
  /** Packets of the frame in progress were lost on the way from the encoder: the rest of it is not sent. */
  damaged: boolean;
  /** When its run was let go (armed, performance.now()), and whether any of its packets has gone to the viewers yet. */
  armedAt: number;
  forwarded: boolean;
}

/**
 * A run that has sent nothing yet still has its first frame, a keyframe, to come (an encoder starts with
 * one): for this long after it was let go, a keyframe request is redundant. Past it, an encoder that has
 * sent nothing may be stuck, and a request (a new run) is let through.
 */
const FIRST_FRAME_WAIT_MS = 3000;

/** Packets a waiting source may queue while the old one finishes its frame. */
const MAX_QUEUED = 4096;

/**
 * The host's fan-out for the rtp transport. Each encoder run (ffmpeg with `-f rtp`, its own RFC 6184 /
 * 7798 packetizer) sends to its own loopback port here; its payloads go to every viewer's
 * RtpPeerSender under one continuous sequence and our own timestamps, so a new encoder run (a
 * keyframe on request, a bitrate step) needs no new receiver at the viewer. Make before break: a new
 * run takes over at its first frame, once the running one has finished the frame it is in.
 * Events: 'switched' (id of the source replaced, or null).
 */
export class RtpOutput extends EventEmitter implements RtpFanOut {
  /** Encoder packets lost on the loopback hop (a process too busy to read them in time), and the frames cut short for it. */
  readonly counters = { sourceLost: 0, framesCut: 0 };
  framesSent = 0;
  private readonly viewers = new Map<string, RtpViewerSender>();
  private readonly sources = new Map<number, Source>();
  private active: Source | null = null;
  private pending: Source | null = null;
  private nextId = 1;
  private frameTimestamp = 0;
  private lastMarker = true;

  peerSender(target: { host: string; port: number }, keys: RtpKeys, payloadType: number, pacing: PacingSettings | null = null): RtpPeerSender {
    return new RtpPeerSender(target, keys, payloadType, pacing);
  }

  addViewer(name: string, sender: RtpViewerSender): void {
    this.viewers.set(name, sender);
  }

  removeViewer(name: string): RtpViewerSender | undefined {
    const sender = this.viewers.get(name);
    this.viewers.delete(name);
    return sender;
  }

  viewer(name: string): RtpViewerSender | undefined {
    return this.viewers.get(name);
  }

  /** A bitrate step: every viewer's pacing follows the encoder's new target. */
  setTargetKbps(targetKbps: number, fps: number, linkKbps: number | null = null): void {
    for (const sender of this.viewers.values()) sender.setPacingTarget?.({ targetKbps, fps, linkKbps });
  }

  /**
   * A loopback port for a new encoder run; it takes over from the running one at its first frame.
   * `armed` false: reserved for a run started ahead, ignored until `arm`.
   */
  async openSource(armed = true): Promise<{ id: number; port: number; fromPort: number }> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    socket.setRecvBufferSize(8 << 20);
    // the encoder sends from this port (its `localport`), and the socket takes datagrams from it alone: no
    // other local process can slip packets into the encrypted stream (were it to take the port first,
    // the encoder could not bind it and the run would fail instead)
    const fromPort = await freeUdpPort('127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.connect(fromPort, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve())));
    const source: Source = { id: this.nextId++, socket, port: socket.address().port, midFrame: false, queued: [], nextSeq: null, damaged: false, armedAt: 0, forwarded: false };
    new UdpBatchReceiver(socket, (data) => this.onPacket(source, data));
    socket.on('error', () => undefined);
    this.sources.set(source.id, source);
    if (armed) this.arm(source.id);
    return { id: source.id, port: source.port, fromPort };
  }

  /** This source's run is going: it takes over at its first frame (or at once when nothing runs). */
  arm(id: number): void {
    const source = this.sources.get(id);
    if (!source || source === this.active || source === this.pending) return;
    if (this.pending) this.dropSource(this.pending.id);
    source.armedAt = performance.now();
    if (this.active) this.pending = source;
    else this.active = source;
  }

  /** The encoder run behind this source has ended (or was replaced). */
  dropSource(id: number): void {
    const source = this.sources.get(id);
    if (!source) return;
    this.sources.delete(id);
    source.socket.close();
    if (this.pending === source) this.pending = null;
    if (this.active === source) {
      this.active = null;
      // a frame cut off mid-way is left for the receivers' loss handling; the next one starts clean
      this.lastMarker = true;
      if (this.pending) this.takeOver();
    }
  }

  isActive(id: number): boolean {
    return this.active?.id === id;
  }

  /**
   * A keyframe is on its way: a source is waiting to take over, or the running one has sent nothing yet
   * (a viewer's request as it joins, or as its browser's DTLS comes up, would start a run for nothing:
   * measured, a browser starting a session with itself as viewer got two encoder restarts 173 ms apart).
   */
  get switching(): boolean {
    const active = this.active;
    return this.pending !== null || (active !== null && !active.forwarded && performance.now() - active.armedAt < FIRST_FRAME_WAIT_MS);
  }

  private onPacket(source: Source, data: Buffer): void {
    if (isRtcp(data)) return; // ffmpeg's own sender reports
    const header = parseRtpHeader(data);
    if (!header) return;
    const payload = data.subarray(header.headerLength);
    const lost = source.nextSeq === null ? 0 : (header.seq - source.nextSeq) & 0xffff;
    source.nextSeq = (header.seq + 1) & 0xffff;
    if (source === this.active) {
      if (lost > 0 && lost < 0x8000) {
        // A frame with packets missing would reach the viewers whole in their eyes (our sequence numbers
        // have no gap) and go to their decoders broken. Cut short instead, it is lost there as any frame
        // lost on the way, and their keyframe request mends the picture.
        this.counters.sourceLost += lost;
        if (!source.damaged) this.counters.framesCut += 1;
        source.damaged = true;
      }
      if (source.damaged) {
        source.midFrame = !header.marker;
        if (header.marker) {
          source.damaged = false;
          this.lastMarker = true;
          if (this.pending?.queued.length) this.takeOver();
        }
        return;
      }
      this.forward(payload, header.marker);
      source.midFrame = !header.marker;
      if (header.marker && this.pending?.queued.length) this.takeOver();
      return;
    }
    if (source !== this.pending) return;
    if (source.queued.length < MAX_QUEUED) source.queued.push({ payload: Buffer.from(payload), marker: header.marker });
    if (!this.active || !this.active.midFrame) this.takeOver();
  }

  private takeOver(): void {
    const next = this.pending;
    if (!next) return;
    const old = this.active;
    this.active = next;
    this.pending = null;
    this.lastMarker = true;
    for (const packet of next.queued) {
      this.forward(packet.payload, packet.marker);
      next.midFrame = !packet.marker;
    }
    next.queued = [];
    if (old) {
      this.sources.delete(old.id);
      old.socket.close();
    }
    this.emit('switched', old?.id ?? null);
  }

  /** A packet of the active source's to the viewers. */
  private forward(payload: Buffer, marker: boolean): void {
    this.active!.forwarded = true;
    const frameStart = this.lastMarker;
    if (frameStart) {
      // our own 90 kHz clock: continuous across encoder runs (each ffmpeg starts its own at random)
      const timestamp = rtpClock(preciseNow(), VIDEO_CLOCK_RATE);
      this.frameTimestamp = timestamp === this.frameTimestamp ? (timestamp + 1) >>> 0 : timestamp;
      this.framesSent += 1;
    }
    this.lastMarker = marker;
    for (const sender of this.viewers.values()) sender.packet(payload, marker, frameStart, this.frameTimestamp);
  }

  close(): void {
    for (const id of [...this.sources.keys()]) this.dropSource(id);
    for (const sender of this.viewers.values()) sender.close();
    this.viewers.clear();
  }
}
