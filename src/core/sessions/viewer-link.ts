import type { EventEmitter } from 'node:events';
import type { StreamMessage, StreamOpen } from '../../shared/contract/peers';
import type { RtpViewerSender } from '../rtp/rtp-output';
import type { StreamShape } from './sender-transport';
import type { DecodedFrame } from './stamp-reader';

/** The transport's counters for one second at the viewer (SRT's own, or the rtp receiver's). */
export type LinkStats = Omit<Extract<StreamMessage, { type: 'stream.stats' }>, 'type' | 'streamId'>;

/** Where the viewer listens: its stream's port (and the SRT passphrase when it chose one, the audio port when it takes sound). */
export interface OpenedAt {
  host: string;
  port: number;
  passphrase?: string;
  audioPort?: number;
  /** Why the sound asked for will not be heard at this viewer (one line, its own words), where it will not. */
  audioWhy?: string;
}

/** The viewer could not read the stream.open at all (a peer older than one of its fields). */
export class OpenNotUnderstood extends Error {}

/** A stream.open as the host sends it: one shape per transport, `transport` always said. */
export type OpenRequest = StreamOpen extends infer O ? (O extends { transport?: infer T } ? Omit<O, 'type' | 'transport'> & { transport: NonNullable<T> } : never) : never;

/**
 * The host's handle on one viewer (a paired peer over the control channel, or a local receiver
 * process for the self-test). Events: 'frames' (DecodedFrame[] with decodedAt on the viewer's clock),
 * 'link-stats' (LinkStats: the transport's counters for the last second, where the viewer can read them), 'gone' (reason): the viewer itself vanished, not just one stream.
 */
export interface ViewerLink extends EventEmitter {
  readonly name: string;
  /** Asks the viewer to (re)open its receiver (an SRT listener or an rtp socket); resolves with the address to send to (and the SRT passphrase, when the viewer chose it). */
  open(request: OpenRequest): Promise<OpenedAt>;
  /** Tells the viewer the stream is over (it stops its listener). */
  close(streamId: string, reason: string): Promise<void>;
  /** The viewer's clock minus ours, and the control channel's round trip (the path's: not one busy sample). */
  clock(): { offsetMs: number | null; rttMs: number | null };
  /**
   * A viewer that carries the encoder's RTP payloads itself (a browser over WebRTC) returns its own
   * sender instead of opening a receiver for ours; its 'keyframe' event asks the session for one. Only
   * transports whose entry says `sinkViewers` (src/shared/transports.ts) call it; other viewers leave it out.
   */
  rtpSink?(shape: StreamShape): Promise<RtpViewerSink>;
  /** A page's live thumbnail: not named among the viewers, no figures of its own, and it keeps no session going. */
  readonly passive?: boolean;
}

/** A viewer's own carrier of the encoder's RTP payloads. Events: 'keyframe' (the viewer asks for one). */
export interface RtpViewerSink extends RtpViewerSender, EventEmitter {}

export type { DecodedFrame };
