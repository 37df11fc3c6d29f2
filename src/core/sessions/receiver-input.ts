import type { Writable } from 'node:stream';
import type { TransportName } from '../../shared/transports';
import type { SrtEndpoint } from '../srt/srt-url';
import type { LinkStats } from './viewer-link';

/** How the decoder reads the stream: MPEG-TS on its stdin that the input writes, or ffmpeg's own listener (SRT without libsrt). */
export type DecoderInput = { kind: 'pipe' } | { kind: 'listen'; listen: SrtEndpoint };

export interface InputEvents {
  /** The transport's counters for the last second. */
  stats(stats: LinkStats): void;
  /** The sender ended the stream (hung up, went silent): the decoder's input ends. */
  end(reason: string): void;
}

/**
 * Lip sync, for an input whose stream carries sound (src/core/audio): how long each frame waits before
 * the decoder so the picture shows with its sound, and when each frame went there (its RTP timestamp,
 * on the host's clock, and the time on ours).
 */
export interface PictureSync {
  holdMs(): number;
  sent(timestamp: number, at: number): void;
  /** A transport that carries the sound inside the picture's stream (srt): each Opus packet, its 90 kHz PTS, its TS bytes. */
  sound?(payload: Buffer, pts: number, tsBytes: number): void;
}

/**
 * The peer's side of one transport for one stream (src/core/<transport>/): opens its socket and feeds
 * the decoder. The Receiver around it (decoder, stamps, exit) knows no transport.
 */
export interface ReceiverInput {
  readonly name: TransportName;
  /** Binds; resolves with the port the host sends to. */
  open(): Promise<number>;
  readonly decoderInput: DecoderInput;
  /** Where the transport's receiving work runs, where it has a choice (rtp: 'native' or 'javascript (why)'). */
  readonly dataPlane?: string;
  /** Writes the stream to the decoder's stdin (when `decoderInput` is a pipe). Returns the function that stops it. */
  feed(stdin: Writable, on: InputEvents): () => void;
  /** After the decoder started: resolves once it really listens (ffmpeg's own listener), throws when it did not. */
  listening(decoderAlive: () => boolean): Promise<void>;
  /** An input opened ahead (no request yet): from now on it syncs with this stream's sound. */
  syncWith?(sync: PictureSync): void;
  close(): void;
}
