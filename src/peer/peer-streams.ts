import type { StreamMessage, StreamOpen } from '../shared/contract/peers';
import { DEFAULT_TRANSPORT, type TransportName } from '../shared/transports';
import { Receiver, startDecoder } from '../core/sessions/receiver';
import type { SupervisedSpawn } from '../core/sessions/child-process';
import { inputAhead, receiverInput } from '../core/sessions/transport-rooms';
import type { PictureSync } from '../core/sessions/receiver-input';
import type { LinkStats } from '../core/sessions/viewer-link';
import type { DecodedFrame } from '../core/sessions/stamp-reader';
import { AudioRtpReceiver, type AudioSecond } from '../core/audio/audio-receiver';
import type { ReceiverInput } from '../core/sessions/receiver-input';
import { SrtAudioReceiver } from '../core/srt/srt-audio-receiver';
import { openPeerAudio, type PeerSound } from './peer-audio';

export interface PeerStreamsOptions {
  /** Address the SRT listeners bind (an IP). */
  listen: string;
  /** Show the picture in a window (a display is present). */
  display: boolean;
  send: (message: StreamMessage) => void;
  title?: string;
  log?: (event: Record<string, unknown>) => void;
  /** How often decoded-frame stamps are batched to the host. */
  flushMs?: number;
  /**
   * Keep one listener started ahead (with its own fresh passphrase, handed to the host over the
   * control channel when used): ffmpeg takes a few hundred ms to start, which would otherwise count
   * in every session's start. Headless only.
   */
  warm?: boolean;
}

interface Spare {
  transport: TransportName;
  receiver: Receiver;
  input: ReceiverInput;
  port: number;
  /** What the host must be told at stream.ready (the secret the peer chose). */
  answer: { passphrase: string };
}

interface Live {
  receiver: Receiver;
  frames: [number | null, number][];
  closing: boolean;
  /** With sound: its receiver, and its last second not yet sent with the stream's stats. */
  audio?: PeerSound | null;
  audioSecond?: AudioSecond | null;
}

/** Where the host sends the stream, and (`soundNote`) why the sound it asked for will not be heard here. */
export interface PeerOpened {
  port: number;
  passphrase?: string;
  audioPort?: number;
  soundNote?: string;
}

/** The answer to a stream.open: the sound's note first (stream.audio), then stream.ready. */
export function answerOpen(send: (message: StreamMessage) => void, streamId: string, opened: PeerOpened): void {
  const { soundNote, ...ready } = opened;
  if (soundNote) send({ type: 'stream.audio', streamId, why: soundNote.slice(0, 300) });
  send({ type: 'stream.ready', streamId, ...ready });
}

/**
 * The peer's side of streams: one SRT listener (Receiver) per stream the host opens, each frame's stamp
 * and decode time batched back to the host every `flushMs`; the host is told when a stream ends.
 */
export class PeerStreams {
  private readonly live = new Map<string, Live>();
  /** Batches stamps while a stream is live; an idle peer has no timer running. */
  private timer: NodeJS.Timeout | null = null;
  private spare: Promise<Spare | null> | null = null;
  /** A decoder started ahead, for streams whose secret comes with the request (rtp: its socket and keys come with the stream). */
  private spareDecoder: SupervisedSpawn | null = null;
  private closed = false;

  constructor(private readonly options: PeerStreamsOptions) {
    // the default transport needs the host's keys: a decoder is kept warm; a whole receiver started ahead
    // (inputAhead: srt) is kept warm once a host has used that transport
    if (this.warm) this.prepareDecoder();
  }

  private prepareDecoder(): void {
    if (this.closed) return;
    const decoder = startDecoder();
    this.spareDecoder = decoder;
    void decoder.exited.then(() => {
      if (this.spareDecoder === decoder) this.spareDecoder = null;
    });
  }

  private takeDecoder(): SupervisedSpawn | undefined {
    const decoder = this.spareDecoder;
    this.spareDecoder = null;
    if (this.warm) this.prepareDecoder();
    return decoder && decoder.child.exitCode === null ? decoder : undefined;
  }

  /** Warm listeners only when headless: a window's crop needs the picture height, known only at open. */
  private get warm(): boolean {
    return Boolean(this.options.warm) && !this.options.display;
  }

  /** Resolves once the warm listener (if any) is up. */
  async warmed(): Promise<void> {
    await this.spare;
  }

  private newReceiver(request: StreamOpen, decoder?: SupervisedSpawn, sync?: PictureSync): Receiver {
    const input = receiverInput(request, { listen: this.options.listen, listenTimeoutMs: 10_000 }, sync);
    return new Receiver({ input, display: this.options.display, title: this.options.title, listenTimeoutMs: 10_000, viewHeight: request.height, decoder });
  }

  private prepareSpare(transport: TransportName): void {
    if (this.closed) return;
    const ahead = inputAhead(transport, { listen: this.options.listen, listenTimeoutMs: 24 * 3600_000 });
    if (!ahead) return;
    const receiver = new Receiver({ input: ahead.input, display: this.options.display, title: this.options.title, listenTimeoutMs: 24 * 3600_000 });
    const spare = receiver.start().then(
      (port): Spare | null => {
        receiver.once('exit', () => {
          if (this.spare === spare) this.spare = null;
        });
        return { transport, receiver, input: ahead.input, port, answer: ahead.answer };
      },
      () => null,
    );
    this.spare = spare;
  }

  private async takeSpare(transport: TransportName): Promise<Spare | null> {
    const spare = this.spare ? await this.spare : null;
    if (spare && spare.transport !== transport) return null;
    this.spare = null;
    if (!spare || spare.receiver.pid === undefined) return null;
    return spare;
  }

  get count(): number {
    return this.live.size;
  }

  /** Opens a receiver for the stream; `passphrase` is set when a receiver started ahead (with its own) was used. */
  async open(request: StreamOpen): Promise<PeerOpened> {
    await this.close(request.streamId);
    const transport = request.transport ?? DEFAULT_TRANSPORT;
    const ahead = this.warm && inputAhead(transport, { listen: this.options.listen }) !== null;
    const spare = ahead ? await this.takeSpare(transport) : null;
    if (ahead) this.prepareSpare(transport);
    if (this.closed) throw new Error('the peer is shutting down');
    // ---- audio: where sound was asked for, the picture waits for it once its receiver is open ----
    let audio: PeerSound | null = null;
    const sync: PictureSync | undefined = 'audio' in request && request.audio
      ? {
          holdMs: () => audio?.videoHoldMs ?? 0,
          sent: (timestamp, at) => audio?.videoRtpFrame(timestamp, at),
          // srt: the sound comes demuxed from the picture's stream
          sound: (payload, pts, bytes) => (audio instanceof SrtAudioReceiver ? audio.packet(payload, pts, bytes) : undefined),
        }
      : undefined;
    if (spare && sync) spare.input.syncWith?.(sync);
    const receiver = spare?.receiver ?? this.newReceiver(request, this.warm && !ahead ? this.takeDecoder() : undefined, sync);
    const entry: Live = { receiver, frames: [], closing: false };
    this.live.set(request.streamId, entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.flush(), this.options.flushMs ?? 100);
      this.timer.unref();
    }
    receiver.on('link-stats', (stats: LinkStats) => {
      // ---- audio: its last second rides with the picture's ----
      const audio = entry.audioSecond ? { audio: entry.audioSecond } : {};
      entry.audioSecond = null;
      if (this.live.get(request.streamId) === entry) this.options.send({ type: 'stream.stats', streamId: request.streamId, ...stats, ...audio });
    });
    receiver.on('frame', (frame: DecodedFrame) => {
      if (entry.frames.length < 1000) entry.frames.push([frame.stampMs, Math.round(frame.decodedAt * 100) / 100]);
      // ---- audio: the picture's delay, for lip sync ----
      if (frame.stampMs !== null) entry.audio?.videoFrame(frame.stampMs, frame.decodedAt);
    });
    receiver.on('exit', ({ reason }: { reason: string }) => {
      void entry.audio?.close();
      this.flushOne(request.streamId, entry);
      if (this.live.get(request.streamId) === entry) this.live.delete(request.streamId);
      if (!entry.closing) this.options.send({ type: 'stream.ended', streamId: request.streamId, reason });
      this.options.log?.({ event: 'stream-ended', streamId: request.streamId, reason });
    });
    const port = spare ? spare.port : await receiver.start();
    // ---- audio (src/core/audio): a second socket under keys derived from the stream's ----
    const opened = await openPeerAudio(request, { listen: this.options.listen, log: this.options.log });
    audio = opened.sound;
    const soundNote = opened.why ? { soundNote: opened.why } : {};
    if (entry.closing || this.live.get(request.streamId) !== entry) {
      // closed, or ended, while the sound's receiver opened: it must not outlive the stream
      await audio?.close();
      audio = null;
    }
    entry.audio = audio;
    entry.audio?.on('second', (second: AudioSecond) => (entry.audioSecond = second));
    const audioPort = entry.audio instanceof AudioRtpReceiver ? { audioPort: entry.audio.port } : {};
    this.options.log?.({ event: 'stream-open', streamId: request.streamId, transport, port, warm: Boolean(spare), size: `${request.width}x${request.height}`, fps: request.fps, codec: request.codec, audio: Boolean(entry.audio), ...(receiver.dataPlane ? { dataPlane: receiver.dataPlane } : {}) });
    return spare ? { port, ...spare.answer, ...soundNote } : { port, ...audioPort, ...soundNote };
  }

  async close(streamId: string): Promise<void> {
    const entry = this.live.get(streamId);
    if (!entry) return;
    entry.closing = true;
    this.live.delete(streamId);
    await entry.audio?.close();
    await entry.receiver.stop();
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const spare = this.spare ? await this.spare : null;
    this.spare = null;
    await spare?.receiver.stop();
    const decoder = this.spareDecoder;
    this.spareDecoder = null;
    await decoder?.stop(500);
    await Promise.all([...this.live.keys()].map((id) => this.close(id)));
  }

  private flush(): void {
    for (const [streamId, entry] of this.live) this.flushOne(streamId, entry);
    if (this.live.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private flushOne(streamId: string, entry: Live): void {
    if (entry.frames.length === 0) return;
    this.options.send({ type: 'stream.frames', streamId, frames: entry.frames });
    entry.frames = [];
  }
}
