import type { Writable } from 'node:stream';
import { preciseNow } from '../pairing/channel';
import type { InputEvents, ReceiverInput } from '../sessions/receiver-input';
import type { LinkStats } from '../sessions/viewer-link';
import type { AssembledFrame } from './frame-assembler';
import { TsWriter } from './mpegts-writer';
import type { RtpKeys } from './rtp-keys';
import { RtpReceiver, type RtpSecond } from './rtp-receiver';

/** rtp has no hang-up: a host silent this long (no authenticated packet) has gone. */
const RTP_SILENCE_MS = 10_000;
/** Decoder input queued beyond this (a stuck decoder) is dropped rather than held. */
const MAX_DECODER_BACKLOG = 32 << 20;

export interface RtpInputOptions {
  listen: string;
  port: number;
  /** The session's masters (from the control channel) and the codec. */
  keys: RtpKeys;
  codec: 'h264' | 'hevc';
  listenTimeoutMs?: number;
}

/**
 * The peer's rtp input: our own receiver (decrypt, FEC, NACK, keyframe on loss) hands whole frames to
 * the decoder as MPEG-TS on its stdin, each one as soon as it is complete.
 */
export class RtpInput implements ReceiverInput {
  readonly name = 'rtp';
  readonly decoderInput = { kind: 'pipe' } as const;
  private readonly rtp: RtpReceiver;

  constructor(private readonly options: RtpInputOptions) {
    this.rtp = new RtpReceiver({ listen: options.listen, port: options.port, keys: options.keys, codec: options.codec });
  }

  open(): Promise<number> {
    return this.rtp.start();
  }

  async listening(): Promise<void> {}

  feed(stdin: Writable, on: InputEvents): () => void {
    const rtp = this.rtp;
    stdin.on('error', () => undefined);
    const ts = new TsWriter(this.options.codec);
    const startedAt = preciseNow();
    rtp.on('frame', (frame: AssembledFrame) => {
      if (stdin.writableLength > MAX_DECODER_BACKLOG) return;
      stdin.write(ts.write(frame.data, frame.firstArrival - startedAt, frame.keyframe));
    });
    rtp.on('second', (second: RtpSecond) => {
      const stats: LinkStats = {
        received: second.received, lost: second.lost, dropped: second.framesLost, fecRecovered: second.fecRecovered, nackRecovered: second.nackRecovered,
        framesLost: second.framesLost, framesSkipped: second.framesSkipped, keyframeRequests: second.keyframeRequests, cleanPictureMs: second.cleanPictureMs,
        rejected: second.rejected, rttMs: second.rttMs === null ? null : Math.round(second.rttMs * 10) / 10,
      };
      on.stats(stats);
      const now = preciseNow();
      const last = rtp.lastAuthenticAt;
      const limit = last === null ? (this.options.listenTimeoutMs ?? 10_000) : RTP_SILENCE_MS;
      if (now - (last ?? startedAt) > limit) on.end(last === null ? 'no host sent to this receiver' : `the host went silent for ${Math.round(limit / 1000)} s`);
    });
    return () => rtp.close();
  }

  close(): void {
    this.rtp.close();
  }
}
