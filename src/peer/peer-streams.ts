import type { StreamMessage, StreamOpen } from '../shared/contract/peers';
import { Receiver } from '../core/sessions/receiver';
import type { DecodedFrame } from '../core/sessions/stamp-reader';

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
}

interface Live {
  receiver: Receiver;
  frames: [number | null, number][];
  closing: boolean;
}

/**
 * The peer's side of streams: one SRT listener (Receiver) per stream the host opens, each frame's stamp
 * and decode time batched back to the host every `flushMs`; the host is told when a stream ends.
 */
export class PeerStreams {
  private readonly live = new Map<string, Live>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: PeerStreamsOptions) {
    this.timer = setInterval(() => this.flush(), options.flushMs ?? 100);
    this.timer.unref();
  }

  get count(): number {
    return this.live.size;
  }

  async open(request: StreamOpen): Promise<number> {
    await this.close(request.streamId);
    const receiver = new Receiver({
      listen: this.options.listen, port: 0, passphrase: request.passphrase, latencyMs: request.latencyMs,
      display: this.options.display, title: this.options.title, listenTimeoutMs: 10_000,
    });
    const entry: Live = { receiver, frames: [], closing: false };
    this.live.set(request.streamId, entry);
    receiver.on('frame', (frame: DecodedFrame) => {
      if (entry.frames.length < 1000) entry.frames.push([frame.stampMs, Math.round(frame.decodedAt * 100) / 100]);
    });
    receiver.on('exit', ({ reason }: { reason: string }) => {
      this.flushOne(request.streamId, entry);
      if (this.live.get(request.streamId) === entry) this.live.delete(request.streamId);
      if (!entry.closing) this.options.send({ type: 'stream.ended', streamId: request.streamId, reason });
      this.options.log?.({ event: 'stream-ended', streamId: request.streamId, reason });
    });
    const port = await receiver.start();
    this.options.log?.({ event: 'stream-open', streamId: request.streamId, port, size: `${request.width}x${request.height}`, fps: request.fps, codec: request.codec });
    return port;
  }

  async close(streamId: string): Promise<void> {
    const entry = this.live.get(streamId);
    if (!entry) return;
    entry.closing = true;
    this.live.delete(streamId);
    await entry.receiver.stop();
  }

  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.live.keys()].map((id) => this.close(id)));
  }

  private flush(): void {
    for (const [streamId, entry] of this.live) this.flushOne(streamId, entry);
  }

  private flushOne(streamId: string, entry: Live): void {
    if (entry.frames.length === 0) return;
    this.options.send({ type: 'stream.frames', streamId, frames: entry.frames });
    entry.frames = [];
  }
}
