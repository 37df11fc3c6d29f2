/** Video's RTP clock rate (RFC 6184, RFC 7798). */
export const VIDEO_CLOCK_RATE = 90_000;

/**
 * The shared clock of a session's RTP: host ms (preciseNow) at `rate` Hz, mod 2^32. Video's 90 kHz
 * timestamps, the sound's 48 kHz ones and every sender report's NTP/RTP pair come from it, so the
 * peer can line the streams up.
 */
export function rtpClock(ms: number, rate: number): number {
  return Math.round(ms * (rate / 1000)) >>> 0;
}
