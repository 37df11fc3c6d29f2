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

/** A fixed 12-byte RTP v2 header (no CSRC, no extension, no padding); the payload follows it. */
export function writeRtpHeader(header: RtpHeader, into: Buffer = Buffer.allocUnsafe(RTP_HEADER_BYTES)): Buffer {
  if (into.length < RTP_HEADER_BYTES) throw new RangeError(`an RTP header needs ${RTP_HEADER_BYTES} bytes, got ${into.length}`);
  into[0] = RTP_VERSION << 6;
  into[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  into.writeUInt16BE(header.seq & 0xffff, 2);
  into.writeUInt32BE(header.timestamp >>> 0, 4);
  into.writeUInt32BE(header.ssrc >>> 0, 8);
  return into.subarray(0, RTP_HEADER_BYTES);
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
