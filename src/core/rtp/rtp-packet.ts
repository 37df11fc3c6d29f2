/**
 * The RTP v2 fixed header (RFC 3550 §5.1). We write the plain 12-byte form only; we read the full form
 * (CSRCs, a header extension) so a packet from any conforming sender parses.
 */
export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
}

export const RTP_HEADER_BYTES = 12;

const RTP_VERSION = 2;
const CSRC_BYTES = 4;
const EXTENSION_HEADER_BYTES = 4;

/**
 * The send stamp on the first packet of each frame: an RFC 8285 one-byte header extension with one
 * element, abs-send-time (as WebRTC's: when the packet left the sender, 6.18 fixed-point seconds in 24
 * bits, wrapping every 64 s). The receiver's delay gauge measures from it, so the time a frame waits in
 * the sender's pacer is not taken for a queue on the path.
 */
export const ABS_SEND_TIME_ID = 3;
/** The extension's header (0xBEDE, one word) and its one word: the element's byte and 3 bytes of stamp. */
export const ABS_SEND_TIME_BYTES = 8;
const ONE_BYTE_PROFILE = 0xbede;
/** abs-send-time units per ms (2^18 a second). */
export const ABS_SEND_TIME_PER_MS = 262.144;

/** `ms` (any monotonic clock) as abs-send-time. */
export function absSendTime(ms: number): number {
  return Math.floor(ms * ABS_SEND_TIME_PER_MS) & 0xffffff;
}

/**
 * A fixed 12-byte RTP v2 header (no CSRC, no padding), with the abs-send-time extension after it when
 * `sendStamp` is given (ABS_SEND_TIME_BYTES more); the payload follows it. Returns the header's bytes.
 */
export function writeRtpHeader(header: RtpHeader, into: Buffer = Buffer.allocUnsafe(RTP_HEADER_BYTES), sendStamp: number | null = null): Buffer {
  const length = RTP_HEADER_BYTES + (sendStamp === null ? 0 : ABS_SEND_TIME_BYTES);
  if (into.length < length) throw new RangeError(`an RTP header needs ${length} bytes, got ${into.length}`);
  into[0] = (RTP_VERSION << 6) | (sendStamp === null ? 0 : 0x10);
  into[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  into.writeUInt16BE(header.seq & 0xffff, 2);
  into.writeUInt32BE(header.timestamp >>> 0, 4);
  into.writeUInt32BE(header.ssrc >>> 0, 8);
  if (sendStamp !== null) {
    into.writeUInt16BE(ONE_BYTE_PROFILE, 12);
    into.writeUInt16BE(1, 14);
    into[16] = (ABS_SEND_TIME_ID << 4) | 2;
    into[17] = (sendStamp >> 16) & 0xff;
    into[18] = (sendStamp >> 8) & 0xff;
    into[19] = sendStamp & 0xff;
  }
  return into.subarray(0, length);
}

/** The abs-send-time of a packet (its header in the clear, as SRTP leaves it), or null where it has none. */
export function readAbsSendTime(packet: Uint8Array): number | null {
  const first = packet[0];
  if (first === undefined || !(first & 0x10)) return null;
  const at = RTP_HEADER_BYTES + (first & 0x0f) * CSRC_BYTES;
  if (packet.length < at + EXTENSION_HEADER_BYTES || ((packet[at]! << 8) | packet[at + 1]!) !== ONE_BYTE_PROFILE) return null;
  const end = Math.min(packet.length, at + EXTENSION_HEADER_BYTES + ((packet[at + 2]! << 8) | packet[at + 3]!) * 4);
  for (let index = at + EXTENSION_HEADER_BYTES; index < end; ) {
    const byte = packet[index]!;
    if (byte === 0) {
      index += 1; // padding
      continue;
    }
    const id = byte >> 4;
    const length = (byte & 0x0f) + 1;
    if (id === 15) return null;
    if (id === ABS_SEND_TIME_ID && length === 3 && index + 3 < end) return (packet[index + 1]! << 16) | (packet[index + 2]! << 8) | packet[index + 3]!;
    index += 1 + length;
  }
  return null;
}

/**
 * Parses an RTP v2 header, skipping CSRCs and a header extension; `headerLength` says where the payload
 * starts. Padding is only reported: in SRTP it lies inside the encrypted payload. Null when the packet is
 * shorter than its header or not version 2.
 */
export function parseRtpHeader(packet: Uint8Array): (RtpHeader & { headerLength: number; padding: boolean }) | null {
  if (packet.length < RTP_HEADER_BYTES) return null;
  const first = packet[0]!;
  if (first >> 6 !== RTP_VERSION) return null;
  let headerLength = RTP_HEADER_BYTES + (first & 0x0f) * CSRC_BYTES;
  if (first & 0x10) {
    if (packet.length < headerLength + EXTENSION_HEADER_BYTES) return null;
    const extensionWords = (packet[headerLength + 2]! << 8) | packet[headerLength + 3]!;
    headerLength += EXTENSION_HEADER_BYTES + extensionWords * 4;
  }
  if (packet.length < headerLength) return null;
  const second = packet[1]!;
  return {
    marker: (second & 0x80) !== 0,
    payloadType: second & 0x7f,
    seq: (packet[2]! << 8) | packet[3]!,
    timestamp: readUInt32(packet, 4),
    ssrc: readUInt32(packet, 8),
    headerLength,
    padding: (first & 0x20) !== 0,
  };
}

/** RFC 5761 demultiplexing: a second byte of 192..223 (payload types 64..95 with the marker) is RTCP. */
export function isRtcp(packet: Uint8Array): boolean {
  if (packet.length < 2) return false;
  const second = packet[1]!;
  return second >= 192 && second <= 223;
}

function readUInt32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
