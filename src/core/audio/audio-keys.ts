import { hkdfSync } from 'node:crypto';
import { MASTER_BYTES } from '../rtp/srtp-gcm';
import type { RtpKeys } from '../rtp/rtp-keys';

/**
 * The audio stream's own masters, derived from the session's (the same keys on the wire, one
 * exchange): a separate key context, so the audio stream's SSRCs, sequence numbers and SRTCP indexes
 * can never meet the video's in one AES-GCM nonce space.
 */
export function audioKeys(keys: RtpKeys): RtpKeys {
  const derive = (master: Buffer, info: string): Buffer => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, MASTER_BYTES));
  return { media: derive(keys.media, 'gpu-bridge audio media'), feedback: derive(keys.feedback, 'gpu-bridge audio feedback') };
}

/** RFC 7587: Opus has a dynamic payload type, a 48 kHz clock whatever the input rate. */
export const OPUS_PAYLOAD_TYPE = 111;
export const OPUS_CLOCK_RATE = 48_000;
