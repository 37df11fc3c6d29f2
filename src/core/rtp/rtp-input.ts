import type { Writable } from 'node:stream';
import { preciseNow } from '../pairing/channel';
import { HeldFrames } from '../audio/held-frames';
import type { InputEvents, PictureSync, ReceiverInput } from '../sessions/receiver-input';
import type { LinkStats } from '../sessions/viewer-link';
import type { AssembledFrame } from './frame-assembler';
import { TsWriter } from './mpegts-writer';
import type { RtpKeys } from './rtp-keys';
import { RtpReceiver, type RtpSecond } from './rtp-receiver';
import { NativeRtpReceiver } from './native-receiver';
import { nativeRtp } from './native-rtp-lib';

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
  /** With sound: each frame held before the decoder so the picture shows with it. */
  sync?: PictureSync;
}

/**
 * The peer's rtp input: our own receiver (decrypt, FEC, NACK, keyframe on loss) hands whole frames to
 * the decoder as MPEG-TS on its stdin, each one as soon as it is complete. Where the native data plane
 * is there (native-rtp-lib.ts), it does all of that on a thread of its own and writes to the decoder
 * itself; with lip sync (frames held in JavaScript) it hands the frames here, and with
 * GPU_BRIDGE_RTP_TRACE (decisions traced) the JavaScript receiver runs instead.
 */
export class RtpInput implements ReceiverInput {
  readonly name = 'rtp';
  readonly decoderInput = { kind: 'pipe' } as const;
  /** Which receiver runs: 'native', or 'javascript (why)'. */
  readonly dataPlane: string;
  private readonly rtp: RtpReceiver | NativeRtpReceiver;

  constructor(private readonly options: RtpInputOptions) {
    const receiverOptions = { listen: options.listen, port: options.port, keys: options.keys, codec: options.codec };
    const native = process.env.GPU_BRIDGE_RTP_TRACE ? 'GPU_BRIDGE_RTP_TRACE is set' : nativeRtp();
    this.rtp = typeof native === 'string' ? new RtpReceiver(receiverOptions) : new NativeRtpReceiver(native, receiverOptions);
    this.dataPlane = typeof native === 'string' ? `javascript (${native})` : 'native';
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
    const sync = this.options.sync;
    const held = new HeldFrames(stdin);
    if (rtp instanceof NativeRtpReceiver) rtp.attach(sync ? null : decoderFd(stdin));
    rtp.on('frame', (frame: AssembledFrame) => {
      if (stdin.writableLength > MAX_DECODER_BACKLOG) return;
      const data = ts.write(frame.data, frame.firstArrival - startedAt, frame.keyframe);
      // ---- audio: lip sync, the picture held back to its sound (0 until the sound is heard); when each frame goes to the decoder ----
      if (sync) sync.sent(frame.timestamp, held.push(data, sync.holdMs()));
      else stdin.write(data);
    });
    rtp.on('second', (second: RtpSecond) => {
      const stats: LinkStats = {
        received: second.received, lost: second.lost, dropped: second.framesLost, fecRecovered: second.fecRecovered, nackRecovered: second.nackRecovered,
        framesLost: second.framesLost, framesSkipped: second.framesSkipped, keyframeRequests: second.keyframeRequests, cleanPictureMs: second.cleanPictureMs,
        rejected: second.rejected, rttMs: second.rttMs === null ? null : Math.round(second.rttMs * 10) / 10,
        queueDelayMs: second.queueDelayMs, receivedKbps: second.receivedKbps, trainKbps: second.trainKbps,
      };
      on.stats(stats);
      const now = preciseNow();
      const last = rtp.lastAuthenticAt;
      const limit = last === null ? (this.options.listenTimeoutMs ?? 10_000) : RTP_SILENCE_MS;
      if (now - (last ?? startedAt) > limit) {
        // the native data plane writes through its own copy of the decoder's stdin: it stops first (on a plain
        // pipe, rather than the socket pair Node gives a child, that copy would also hold off the decoder's EOF)
        if (rtp instanceof NativeRtpReceiver) rtp.close();
        on.end(last === null ? 'no host sent to this receiver' : `the host went silent for ${Math.round(limit / 1000)} s`);
      }
    });
    return () => {
      held.clear();
      rtp.close();
    };
  }

  close(): void {
    this.rtp.close();
  }
}

/** The fd under a child's stdin pipe (Node's handle has no public accessor), or null. */
export function decoderFd(stdin: Writable): number | null {
  const fd = (stdin as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
