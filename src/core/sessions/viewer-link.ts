import type { EventEmitter } from 'node:events';
import type { Codec } from './encoder-args';
import type { DecodedFrame } from './stamp-reader';

export interface OpenRequest {
  streamId: string;
  passphrase: string;
  latencyMs: number;
  width: number;
  height: number;
  fps: number;
  codec: Codec;
}

/**
 * The host's handle on one viewer (a paired peer over the control channel, or a local receiver
 * process for the self-test). Events: 'frames' (DecodedFrame[] with decodedAt on the viewer's clock),
 * 'srt-stats' ({received, lost, dropped} packets in the last second, where the viewer can read SRT's
 * counters), 'gone' (reason): the viewer itself vanished, not just one stream.
 */
export interface ViewerLink extends EventEmitter {
  readonly name: string;
  /** Asks the viewer to (re)open its SRT listener; resolves with the address to send to (and the passphrase, when the viewer chose it). */
  open(request: OpenRequest): Promise<{ host: string; port: number; passphrase?: string }>;
  /** Tells the viewer the stream is over (it stops its listener). */
  close(streamId: string, reason: string): Promise<void>;
  /** The viewer's clock minus ours, and the control RTT, as last measured. */
  clock(): { offsetMs: number | null; rttMs: number | null };
}

export type { DecodedFrame };
