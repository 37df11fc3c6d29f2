import { EventEmitter } from 'node:events';
import type { StreamMessage } from '../../shared/contract/peers';
import { OpenNotUnderstood, type OpenedAt, type OpenRequest, type ViewerLink } from './viewer-link';

export interface MessageViewerLinkOptions {
  name: string;
  /** IP the viewer's receiver is reached at. */
  host: string;
  send: (message: StreamMessage) => void;
  clock: () => { offsetMs: number | null; rttMs: number | null };
  openTimeoutMs?: number;
}

/**
 * A viewer reached through stream messages (the control channel to a paired peer, or the stdio of a
 * local `peer receive`). The owner feeds incoming messages to `receive` and calls `gone` when the
 * transport closes.
 */
export class MessageViewerLink extends EventEmitter implements ViewerLink {
  readonly name: string;
  private readonly waiting = new Map<string, { resolve: (ready: Omit<OpenedAt, 'host'>) => void; reject: (error: Error) => void; timer: NodeJS.Timeout; audioWhy?: string }>();

  /** Streams opened and not closed: frames of any other (a previous encoder run's) are ignored. */
  private readonly active = new Set<string>();

  constructor(private readonly options: MessageViewerLinkOptions) {
    super();
    this.name = options.name;
  }

  open(request: OpenRequest): Promise<OpenedAt> {
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.openTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.waiting.delete(request.streamId);
        reject(new Error(`${this.name} did not open a receiver within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.active.add(request.streamId);
      this.waiting.set(request.streamId, { resolve: (ready) => resolve({ host: this.options.host, ...ready }), reject, timer });
      this.options.send({ type: 'stream.open', ...request });
    });
  }

  async close(streamId: string, reason: string): Promise<void> {
    if (!this.active.delete(streamId)) return;
    this.options.send({ type: 'stream.close', streamId, reason: reason.slice(0, 500) });
  }

  clock(): { offsetMs: number | null; rttMs: number | null } {
    return this.options.clock();
  }

  /**
   * The viewer answered an error to something we sent. One that could not read a stream.open (a peer
   * older than one of its fields) fails the opens waiting, at once rather than at their timeout: the
   * caller may ask again with less (see open-asking-sound.ts).
   */
  refused(code: string, text: string): void {
    if (code !== 'INVALID_REQUEST' || !/\bstream\.open\b/.test(text)) return;
    for (const [streamId, pending] of this.waiting) {
      clearTimeout(pending.timer);
      this.waiting.delete(streamId);
      pending.reject(new OpenNotUnderstood(`${this.name} could not read the stream.open (${text.slice(0, 200)}): it runs an older gpu-bridge`));
    }
  }

  /** An incoming stream message from this viewer. */
  receive(message: StreamMessage): void {
    switch (message.type) {
      case 'stream.ready': {
        const pending = this.waiting.get(message.streamId);
        if (!pending) return;
        clearTimeout(pending.timer);
        this.waiting.delete(message.streamId);
        pending.resolve({
          port: message.port,
          ...(message.passphrase ? { passphrase: message.passphrase } : {}),
          ...(message.audioPort ? { audioPort: message.audioPort } : {}),
          ...(pending.audioWhy ? { audioWhy: pending.audioWhy } : {}),
        });
        return;
      }
      case 'stream.audio': {
        // comes before its stream.ready
        const pending = this.waiting.get(message.streamId);
        if (pending) pending.audioWhy = message.why;
        return;
      }
      case 'stream.ended': {
        const pending = this.waiting.get(message.streamId);
        if (pending) {
          clearTimeout(pending.timer);
          this.waiting.delete(message.streamId);
          pending.reject(new Error(message.reason));
        }
        this.emit('stream-ended', message.streamId, message.reason);
        return;
      }
      case 'stream.stats': {
        if (!this.active.has(message.streamId)) return;
        const { type: _type, streamId: _id, ...stats } = message;
        this.emit('link-stats', stats);
        return;
      }
      case 'stream.frames':
        if (!this.active.has(message.streamId)) return;
        this.emit('frames', message.frames.map(([stampMs, decodedAt]) => ({ stampMs, decodedAt })));
        return;
      default:
        return;
    }
  }

  /** The viewer vanished (transport closed). */
  gone(reason: string): void {
    for (const [, pending] of this.waiting) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`${this.name} went away: ${reason}`));
    }
    this.waiting.clear();
    this.emit('gone', reason);
  }
}
