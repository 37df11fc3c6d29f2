import { MASTER_BYTES, newMaster } from './srtp-gcm';

/** One session's keys, one master per direction: host → peer (media, SR) and peer → host (feedback). */
export interface RtpKeys {
  media: Buffer;
  feedback: Buffer;
}

/** As they travel inside the mutual-TLS control channel (never on a command line, in an environment or a file). */
export interface RtpKeysWire {
  media: string;
  feedback: string;
}

export const MEDIA_PAYLOAD_TYPE = { h264: 96, hevc: 98 } as const;
export const FEC_PAYLOAD_TYPE = 100;

export function newRtpKeys(): RtpKeys {
  return { media: newMaster(), feedback: newMaster() };
}

export function keysToWire(keys: RtpKeys): RtpKeysWire {
  return { media: keys.media.toString('base64'), feedback: keys.feedback.toString('base64') };
}

export function keysFromWire(wire: RtpKeysWire): RtpKeys {
  const media = Buffer.from(wire.media, 'base64');
  const feedback = Buffer.from(wire.feedback, 'base64');
  if (media.length !== MASTER_BYTES || feedback.length !== MASTER_BYTES) throw new Error(`RTP keys must be ${MASTER_BYTES} bytes each`);
  return { media, feedback };
}
