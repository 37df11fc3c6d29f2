import type { EventEmitter } from 'node:events';
import type { TransportCapabilities, TransportName } from '../../shared/transports';
import type { SupervisedSpawn } from './child-process';
import type { Codec } from './encoder-args';
import type { SenderSpec } from './pipeline';
import type { ViewerLink } from './viewer-link';

/** The picture a stream carries, as each viewer's receiver is told at open. */
export interface StreamShape {
  codec: Codec;
  width: number;
  height: number;
  fps: number;
}

/** Where an encoder run sends: the transport's part of buildSenderArgs' spec. */
export type EncoderTarget = Pick<SenderSpec, 'outputs' | 'tsPort' | 'rtpPort' | 'rtpFromPort' | 'gated'>;

/**
 * What the session lends a transport to run the encoder with. The session owns the encoder's
 * supervision (progress, last words, restarts, fallback); the transport decides when a run starts,
 * where it sends and how the viewers' streams follow it.
 */
export interface EncoderRuns {
  /** The session has ended: start nothing more. */
  readonly ended: boolean;
  readonly shape: StreamShape;
  /** The encoder's bitrate now, kbit/s (the adaptive bitrate's current step). */
  readonly targetKbps: number;
  /** A launch is current while no newer one (and no end) came after it. */
  isCurrent(generation: number): boolean;
  /** ffmpeg's argv for a run of the current encoder and bitrate towards `target` (throws when impossible). */
  args(target: EncoderTarget): string[];
  /** Makes this run the session's current one (a fresh spawn, or `started`, a run started ahead): supervised from here on. */
  spawn(args: string[], generation: number, started?: SupervisedSpawn): SupervisedSpawn;
  /** Starts a run ahead, not yet supervised (it waits at its gate until the transport releases it). */
  spawnAhead(args: string[]): SupervisedSpawn;
  /** Stops the current run and waits for it (a transport whose viewers' streams end with the run). */
  stopCurrent(): Promise<void>;
  /** Stops a run the session no longer needs; `finish` waits for it. */
  retire(run: SupervisedSpawn, graceMs?: number): void;
  /** Ends the session as failed with this reason. */
  fail(reason: string): Promise<void>;
  /** The encoder and bitrate of now: a run started ahead for another no longer fits. */
  runKey(): string;
  /** The viewers' streams were opened anew: their per-stream figures (first frame, loss windows) start over. */
  streamsReopened(): void;
  /** The viewers, in the order they joined. */
  viewers(): ViewerLink[];
}

/** What the session must do after a viewer joined or left. */
export type ViewerChange = 'nothing' | 'keyframe' | 'launch';

/**
 * The host's side of one transport for one session (src/core/<transport>/): the session hands it its
 * encoder runs and viewers and asks it for keyframes and link figures; it knows no transport itself.
 * Events: 'keyframe' (a viewer needs one to recover).
 */
export interface SenderTransport extends EventEmitter {
  readonly name: TransportName;
  readonly caps: TransportCapabilities;
  /**
   * Frames sent are counted by the transport (`framesSent`), not from the encoder's progress (runs
   * overlap): its viewers' streams run on across encoder runs, so the bitrate adapts from the first frames
   * sent (before any picture, on a link too narrow for the first keyframe) rather than per run.
   */
  readonly countsFrames: boolean;
  /** Frames that have left for the viewers so far, where `countsFrames` (read when asked: no event per frame). */
  framesSent(): number;
  /** A new run is already on its way to replace the running one: a keyframe request now would be redundant. */
  readonly switching: boolean;
  /** A viewer joins: opens what must be open before it gets frames (throws when its receiver cannot open). */
  addViewer(link: ViewerLink, runs: EncoderRuns): Promise<ViewerChange>;
  /** A viewer leaves (its sender closed): the id of its stream, to close at the viewer, and what the others need. */
  removeViewer(name: string): { streamId: string; then: ViewerChange };
  /** The stream id a viewer's receiver knows now. */
  streamId(name: string): string;
  /** An encoder run towards the viewers (a restart, a keyframe, a bitrate step). */
  launch(runs: EncoderRuns, generation: number): Promise<void>;
  /** The media path's own round trip to this viewer, ms, where the transport measures it. */
  rttMs(name: string): number | null;
  /** The repair data it adds for this viewer now, per media byte, where it adds FEC (the bitrate controller nets it out). */
  fecRatio(name: string): number | null;
  /**
   * The bitrate controller's judgement of this viewer's link each second: its queue is full (a number: the
   * random loss it showed without a queue, which repair data should still cover) or not (null). Where the
   * transport adds FEC, a full link's own loss does not raise it.
   */
  linkQueue(name: string, randomLoss: number | null): void;
  /**
   * A bitrate step, before the encoder run that carries it: what the transport sends by itself follows
   * (rtp: each viewer's pacing, never faster than `linkKbps`, what the link carried when last full, where
   * known); nothing where ffmpeg sends.
   */
  setTargetKbps(targetKbps: number, linkKbps?: number | null): void;
  /** The runs it holds (started ahead, overlapping): stopped and awaited by the session's end. */
  stopRuns(): Promise<void>[];
  /** The session has ended (every run stopped): closes every socket. */
  close(): void;
}
