/**
 * A synthetic video stream through the real rtp sender (SRTP, FEC, NACK, pacer) and receiver (the frame
 * assembler), over real UDP, through a relay with a bottleneck. Frames are single-NAL H.264 slices of
 * real sizes for the rate: a keyframe every `keyframeEverySeconds` ten times an ordinary frame (like a
 * pre-encoded stream: a keyframe request is not answered, a broken picture waits for the next one).
 * Used by the pacing test (counts) and bench.
 */
import type { AssembledFrame } from '../../src/core/rtp/frame-assembler';
import { MEDIA_PAYLOAD_TYPE, newRtpKeys } from '../../src/core/rtp/rtp-keys';
import { RtpPeerSender } from '../../src/core/rtp/rtp-peer-sender';
import { RtpReceiver } from '../../src/core/rtp/rtp-receiver';
import type { LinkProfile } from '../../src/core/net/udp-relay';
import { seededRandom } from '../../src/core/util/seeded-random';

export interface BottleneckStreamOptions {
  seconds: number;
  fps: number;
  kbps: number;
  keyframeEverySeconds: number;
  /** A keyframe's size in ordinary frames. */
  keyframeScale?: number;
  /** Pacing factor, or null: every packet at once. */
  pacingFactor: number | null;
  link: LinkProfile;
  /** Starts a relay towards the receiver with this profile; resolves with its port; `close` ends it. */
  relay: (target: { host: string; port: number }, profile: LinkProfile) => { start(): Promise<number>; close(): void };
}

export interface BottleneckStreamResult {
  framesSent: number;
  keyframesSent: number;
  framesDelivered: number;
  /** Frames the receiver gave up on (a loss it could not repair). */
  framesLost: number;
  framesSkipped: number;
  packetsSent: number;
  fecRecovered: number;
  nackRecovered: number;
  lost: number;
}

const PACKET_BYTES = 1200;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function streamThroughBottleneck(options: BottleneckStreamOptions): Promise<BottleneckStreamResult> {
  const scale = options.keyframeScale ?? 10;
  const gop = Math.round(options.keyframeEverySeconds * options.fps);
  // bytes of an ordinary frame such that a GOP (one keyframe, gop-1 ordinary frames) averages the rate
  const frameBytes = (options.kbps * 1000 * options.keyframeEverySeconds) / 8 / (gop - 1 + scale);
  const random = seededRandom(42);
  const keys = newRtpKeys();
  const receiver = new RtpReceiver({ listen: '127.0.0.1', port: 0, keys, codec: 'h264' });
  const receiverPort = await receiver.start();
  const relay = options.relay({ host: '127.0.0.1', port: receiverPort }, options.link);
  const relayPort = await relay.start();
  const pacing = options.pacingFactor === null ? null : { targetKbps: options.kbps, fps: options.fps, factor: options.pacingFactor };
  const sender = new RtpPeerSender({ host: '127.0.0.1', port: relayPort }, keys, MEDIA_PAYLOAD_TYPE.h264, pacing);
  let delivered = 0;
  receiver.on('frame', (_frame: AssembledFrame) => (delivered += 1));
  const result = { framesSent: 0, keyframesSent: 0 };
  try {
    await sender.start();
    // the first sender report reaches the receiver, so its feedback has somewhere to go
    await sleep(100);
    const startedAt = performance.now();
    const total = Math.round(options.seconds * options.fps);
    let sinceKeyframe = gop;
    for (let index = 0; index < total; index += 1) {
      const due = startedAt + (index * 1000) / options.fps;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const keyframe = sinceKeyframe >= gop;
      if (keyframe) {
        sinceKeyframe = 0;
        result.keyframesSent += 1;
      }
      sinceKeyframe += 1;
      const bytes = keyframe ? frameBytes * scale : frameBytes * (0.8 + 0.4 * random());
      const packets = Math.max(1, Math.round(bytes / PACKET_BYTES));
      const timestamp = (index * Math.round(90_000 / options.fps)) >>> 0;
      for (let i = 0; i < packets; i += 1) {
        const payload = Buffer.alloc(PACKET_BYTES, index & 0xff);
        payload[0] = keyframe ? 0x65 : 0x41;
        sender.packet(payload, i === packets - 1, i === 0, timestamp);
      }
      result.framesSent += 1;
    }
    // the last frames drain through the bottleneck and any repair finishes
    await sleep(1000 + 2 * options.link.oneWayDelayMs);
    const c = receiver.counters;
    return {
      ...result, framesDelivered: delivered, framesLost: c.framesLost, framesSkipped: c.framesSkipped, packetsSent: sender.counters.packetsSent,
      fecRecovered: c.fecRecovered, nackRecovered: c.nackRecovered, lost: Math.max(0, sender.counters.packetsSent - c.originals),
    };
  } finally {
    sender.close();
    receiver.close();
    relay.close();
  }
}
