import { RTCRtpHeaderExtensionParameters } from 'werift';

const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';


/**
 * The playout-delay header extension (negotiated in the offer): with 0..0 on a frame's packets the
 * browser shows each frame as soon as it is decoded, without the smoothing delay it adds for video
 * calls (what game-streaming viewers do).
 */
export const PLAYOUT_DELAY = new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI });

/** The id werift gave the extension in its offer (it numbers them itself), or null when it is absent. */
export function playoutDelayId(sdp: string): number | null {
  const match = new RegExp(`^a=extmap:(\\d+) ${PLAYOUT_DELAY_URI.replace(/[.]/g, '\\.')}\\r?$`, 'm').exec(sdp);
  return match ? Number(match[1]) : null;
}
