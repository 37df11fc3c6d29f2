/**
 * SRTP and SRTCP with AEAD_AES_256_GCM in the construction of RFC 7714: the RTP header (or the first 8
 * bytes of an RTCP compound and the SRTCP trailer) is authenticated in clear, the rest is encrypted, and
 * a 16-byte tag follows. Session keys and salts come from a per-direction master through HKDF-SHA256
 * (not the AES-CM KDF of RFC 3711), one pair for RTP and one for RTCP.
 *
 * The receiving side takes untrusted bytes: it never throws, and only a packet whose tag verifies may
 * create or move any state (SSRC entries, ROC, replay windows), so forged traffic cannot grow memory or
 * push the window past the genuine stream.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { gcmForKey, type GcmBackend, type GcmOpener, type GcmSealer } from './aes-gcm';
import { ABS_SEND_TIME_BYTES, parseRtpHeader, RTP_HEADER_BYTES, writeRtpHeader, type RtpHeader } from './rtp-packet';

/** A per-direction master: 32-byte key + 12-byte salt, fresh random per session. */
export const MASTER_BYTES = 44;
export const TAG_BYTES = 16;
export const SRTCP_TRAILER_BYTES = 4;
/** The RTCP header and sender SSRC, authenticated but sent in clear. */
export const SRTCP_CLEAR_BYTES = 8;

const KEY_BYTES = 32;
const SALT_BYTES = 12;
const IV_BYTES = 12;
const ENCRYPTED_FLAG = 0x80000000;
const MAX_SRTCP_INDEX = 0x7fffffff;
const SEQ_MODULUS = 0x10000;
const HALF_SEQ = 0x8000;
const DEFAULT_REPLAY_WINDOW = 4096;
const DEFAULT_MAX_SSRCS = 4;
const MAX_REPLAY_WINDOW = 1 << 20;

export type UnprotectError = 'short' | 'malformed' | 'auth' | 'replay';

export function newMaster(): Buffer {
  return randomBytes(MASTER_BYTES);
}

export interface SessionKeys {
  rtpKey: Buffer;
  rtpSalt: Buffer;
  rtcpKey: Buffer;
  rtcpSalt: Buffer;
}

export function deriveSessionKeys(master: Buffer): SessionKeys {
  if (master.length !== MASTER_BYTES) throw new RangeError(`an SRTP master is ${MASTER_BYTES} bytes, got ${master.length}`);
  const derive = (info: string, length: number): Buffer => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, length));
  return {
    rtpKey: derive('gpu-bridge srtp key', KEY_BYTES),
    rtpSalt: derive('gpu-bridge srtp salt', SALT_BYTES),
    rtcpKey: derive('gpu-bridge srtcp key', KEY_BYTES),
    rtcpSalt: derive('gpu-bridge srtcp salt', SALT_BYTES),
  };
}

/** RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, XOR the salt; written into `iv`. */
function rtpIv(iv: Buffer, salt: Buffer, ssrc: number, roc: number, seq: number): Buffer {
  iv.writeUInt16BE(0, 0);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  iv.writeUInt32BE(roc >>> 0, 6);
  iv.writeUInt16BE(seq, 10);
  return xorInPlace(iv, salt);
}

/** RFC 7714 §9.1: 00 00 | SSRC | 00 00 | 0 + 31-bit SRTCP index, XOR the salt. */
function rtcpIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(IV_BYTES);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  iv.writeUInt32BE(index & MAX_SRTCP_INDEX, 8);
  return xorInPlace(iv, salt);
}

function xorInPlace(target: Buffer, mask: Buffer): Buffer {
  for (let i = 0; i < target.length; i += 1) target[i] = target[i]! ^ mask[i]!;
  return target;
}

/** Plaintext, or null when the tag does not verify. */
function open(opener: GcmOpener, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer | null {
  const plaintext = Buffer.allocUnsafe(ciphertext.length);
  return opener.open(iv, aad, ciphertext, plaintext, tag) ? plaintext : null;
}

/** The sending side of one direction. */
export class SrtpProtector {
  private readonly keys: SessionKeys;
  private readonly rtpCipher: GcmSealer;
  private readonly rtcpCipher: GcmSealer;
  private readonly iv = Buffer.alloc(IV_BYTES);
  private readonly sent = new Map<number, { roc: number; seq: number }>();
  private rtcpIndex = 0;
  /** Who does the AES: OpenSSL with a kept context, or node:crypto (see aes-gcm.ts). */
  readonly backend: GcmBackend;

  constructor(master: Buffer, options: { backend?: GcmBackend } = {}) {
    this.keys = deriveSessionKeys(master);
    const rtp = gcmForKey(this.keys.rtpKey, options.backend);
    this.rtpCipher = rtp.sealer;
    this.rtcpCipher = gcmForKey(this.keys.rtcpKey, rtp.backend).sealer;
    this.backend = rtp.backend;
  }

  /** The header (as writeRtpHeader writes it, with the abs-send-time extension where `sendStamp` is given) + payload, encrypted, + tag. */
  protectRtp(header: RtpHeader, payload: Uint8Array, sendStamp: number | null = null): Buffer {
    const seq = header.seq & 0xffff;
    const roc = this.rocFor(header.ssrc >>> 0, seq);
    const headerBytes = RTP_HEADER_BYTES + (sendStamp === null ? 0 : ABS_SEND_TIME_BYTES);
    const packet = Buffer.allocUnsafe(headerBytes + payload.length + TAG_BYTES);
    const aad = writeRtpHeader(header, packet, sendStamp);
    const tagAt = headerBytes + payload.length;
    this.rtpCipher.seal(rtpIv(this.iv, this.keys.rtpSalt, header.ssrc, roc, seq), aad, payload, packet.subarray(headerBytes, tagAt), packet.subarray(tagAt));
    return packet;
  }

  /** A compound RTCP packet -> SRTCP; the index goes up by one per call. */
  protectRtcp(compound: Buffer): Buffer {
    if (compound.length < SRTCP_CLEAR_BYTES) throw new RangeError(`an RTCP compound has at least ${SRTCP_CLEAR_BYTES} bytes, got ${compound.length}`);
    if (this.rtcpIndex > MAX_SRTCP_INDEX) throw new Error('SRTCP index exhausted: the direction needs a new master');
    const index = this.rtcpIndex;
    this.rtcpIndex += 1;
    const bodyBytes = compound.length - SRTCP_CLEAR_BYTES;
    const packet = Buffer.allocUnsafe(compound.length + TAG_BYTES + SRTCP_TRAILER_BYTES);
    compound.copy(packet, 0, 0, SRTCP_CLEAR_BYTES);
    const trailer = packet.subarray(packet.length - SRTCP_TRAILER_BYTES);
    trailer.writeUInt32BE((ENCRYPTED_FLAG | index) >>> 0, 0);
    const aad = Buffer.concat([compound.subarray(0, SRTCP_CLEAR_BYTES), trailer]);
    const tagAt = SRTCP_CLEAR_BYTES + bodyBytes;
    this.rtcpCipher.seal(rtcpIv(this.keys.rtcpSalt, compound.readUInt32BE(4), index), aad, compound.subarray(SRTCP_CLEAR_BYTES), packet.subarray(SRTCP_CLEAR_BYTES, tagAt), packet.subarray(tagAt, tagAt + TAG_BYTES));
    return packet;
  }

  /** The ROC of `seq`: a forward step that lands below the last seq is a wrap; a step back is a resend. */
  private rocFor(ssrc: number, seq: number): number {
    const last = this.sent.get(ssrc);
    if (!last) {
      this.sent.set(ssrc, { roc: 0, seq });
      return 0;
    }
    if (((seq - last.seq) & 0xffff) < HALF_SEQ) {
      if (seq < last.seq) last.roc = (last.roc + 1) >>> 0;
      last.seq = seq;
      return last.roc;
    }
    return seq > last.seq ? (last.roc - 1) >>> 0 : last.roc;
  }
}

/**
 * Which of the last `width` indexes below the highest have been seen: a ring of bits, index mod size.
 * Indexes run to 2^48 (RTP) or 2^31 (RTCP), exact in a double.
 */
class ReplayWindow {
  private readonly bits: Uint32Array;
  private readonly size: number;
  private highest: number;

  constructor(
    private readonly width: number,
    first: number,
  ) {
    this.bits = new Uint32Array(Math.ceil(width / 32));
    this.size = this.bits.length * 32;
    this.highest = first;
    this.flip(first, true);
  }

  get highestIndex(): number {
    return this.highest;
  }

  accepts(index: number): boolean {
    if (index > this.highest) return true;
    if (index < 0 || this.highest - index >= this.width) return false;
    return !this.isSet(index);
  }

  record(index: number): void {
    if (index > this.highest) {
      if (index - this.highest >= this.size) this.bits.fill(0);
      else for (let skipped = this.highest + 1; skipped < index; skipped += 1) this.flip(skipped, false);
      this.highest = index;
    }
    this.flip(index, true);
  }

  private isSet(index: number): boolean {
    const bit = index % this.size;
    return (this.bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private flip(index: number, on: boolean): void {
    const bit = index % this.size;
    const word = bit >>> 5;
    if (on) this.bits[word] = this.bits[word]! | (1 << (bit & 31));
    else this.bits[word] = this.bits[word]! & ~(1 << (bit & 31));
  }
}

/** Replay windows per SSRC, at most `limit` of them; the least recently authenticated SSRC goes first. */
class ReplayTable {
  private readonly windows = new Map<number, ReplayWindow>();

  constructor(
    private readonly width: number,
    private readonly limit: number,
  ) {}

  get size(): number {
    return this.windows.size;
  }

  get(ssrc: number): ReplayWindow | undefined {
    return this.windows.get(ssrc);
  }

  /** Call only for an authenticated packet whose index the window accepts. */
  record(ssrc: number, index: number): void {
    const window = this.windows.get(ssrc);
    this.windows.delete(ssrc);
    if (window) window.record(index);
    else if (this.windows.size >= this.limit) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(ssrc, window ?? new ReplayWindow(this.width, index));
  }
}

/** RFC 3711 Appendix A: the ROC that puts `seq` nearest the highest index seen. */
function guessRoc(highestIndex: number, seq: number): number {
  const roc = Math.floor(highestIndex / SEQ_MODULUS);
  const highestSeq = highestIndex % SEQ_MODULUS;
  if (highestSeq < HALF_SEQ) return seq - highestSeq > HALF_SEQ ? roc - 1 : roc;
  return highestSeq - HALF_SEQ > seq ? roc + 1 : roc;
}

/** The receiving side of one direction. */
export class SrtpUnprotector {
  private readonly keys: SessionKeys;
  private readonly rtpCipher: GcmOpener;
  private readonly rtcpCipher: GcmOpener;
  private readonly iv = Buffer.alloc(IV_BYTES);
  private readonly rtp: ReplayTable;
  private readonly rtcp: ReplayTable;
  readonly backend: GcmBackend;

  constructor(master: Buffer, options: { replayWindow?: number; maxSsrcs?: number; backend?: GcmBackend } = {}) {
    const replayWindow = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    const maxSsrcs = options.maxSsrcs ?? DEFAULT_MAX_SSRCS;
    if (!Number.isInteger(replayWindow) || replayWindow < 1 || replayWindow > MAX_REPLAY_WINDOW) throw new RangeError(`replayWindow must be an integer in 1..${MAX_REPLAY_WINDOW}`);
    if (!Number.isInteger(maxSsrcs) || maxSsrcs < 1) throw new RangeError('maxSsrcs must be a positive integer');
    this.keys = deriveSessionKeys(master);
    const rtp = gcmForKey(this.keys.rtpKey, options.backend);
    this.rtpCipher = rtp.opener;
    this.rtcpCipher = gcmForKey(this.keys.rtcpKey, rtp.backend).opener;
    this.backend = rtp.backend;
    this.rtp = new ReplayTable(replayWindow, maxSsrcs);
    this.rtcp = new ReplayTable(replayWindow, maxSsrcs);
  }

  /** For tests: how many SSRCs have state. */
  get trackedSsrcs(): { rtp: number; rtcp: number } {
    return { rtp: this.rtp.size, rtcp: this.rtcp.size };
  }

  /**
   * `inPlace`: decrypt into the packet's own bytes (no copy: the payload returned is a view of `packet`),
   * which leaves them garbled when the packet is rejected; for a caller that owns the datagram.
   */
  unprotectRtp(packet: Uint8Array, options: { inPlace?: boolean } = {}): { header: RtpHeader; payload: Buffer } | { error: UnprotectError } {
    if (packet.length < RTP_HEADER_BYTES + TAG_BYTES) return { error: 'short' };
    if (packet[0]! >> 6 !== 2) return { error: 'malformed' };
    const parsed = parseRtpHeader(packet);
    if (!parsed || packet.length < parsed.headerLength + TAG_BYTES) return { error: 'short' };
    const { ssrc, seq } = parsed;
    const tagAt = packet.length - TAG_BYTES;
    const aad = packet.subarray(0, parsed.headerLength);
    const ciphertext = packet.subarray(parsed.headerLength, tagAt);
    const tag = packet.subarray(tagAt);
    const iv = (roc: number) => rtpIv(this.iv, this.keys.rtpSalt, ssrc, roc, seq);
    const tryRoc = (roc: number): Buffer | null => open(this.rtpCipher, iv(roc), aad, ciphertext, tag);

    const window = this.rtp.get(ssrc);
    let roc: number;
    let plaintext: Buffer | null;
    if (window && options.inPlace) {
      // one ROC to try, so the ciphertext is needed only once
      roc = guessRoc(window.highestIndex, seq);
      const inPlace = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.length);
      plaintext = this.rtpCipher.open(iv(roc), aad, ciphertext, inPlace, tag) ? inPlace : null;
    } else if (window) {
      roc = guessRoc(window.highestIndex, seq);
      plaintext = tryRoc(roc);
    } else {
      // nothing seen of this SSRC yet: its first packets may all have been lost past the sender's first wrap
      roc = 0;
      plaintext = tryRoc(0);
      if (!plaintext) {
        roc = 1;
        plaintext = tryRoc(1);
      }
    }
    if (!plaintext) return { error: 'auth' };
    const index = roc * SEQ_MODULUS + seq;
    if (window && !window.accepts(index)) return { error: 'replay' };
    let payload = plaintext;
    if (parsed.padding) {
      const padding = plaintext.length > 0 ? plaintext[plaintext.length - 1]! : 0;
      if (padding === 0 || padding > plaintext.length) return { error: 'malformed' };
      payload = plaintext.subarray(0, plaintext.length - padding);
    }
    this.rtp.record(ssrc, index);
    return { header: { marker: parsed.marker, payloadType: parsed.payloadType, seq, timestamp: parsed.timestamp, ssrc }, payload };
  }

  unprotectRtcp(packet: Uint8Array): { compound: Buffer; index: number } | { error: UnprotectError } {
    if (packet.length < SRTCP_CLEAR_BYTES + TAG_BYTES + SRTCP_TRAILER_BYTES) return { error: 'short' };
    const second = packet[1]!;
    if (packet[0]! >> 6 !== 2 || second < 192 || second > 223) return { error: 'malformed' };
    const trailerAt = packet.length - SRTCP_TRAILER_BYTES;
    const trailer = packet.subarray(trailerAt);
    const word = ((trailer[0]! << 24) | (trailer[1]! << 16) | (trailer[2]! << 8) | trailer[3]!) >>> 0;
    // an unencrypted SRTCP packet is legal in RFC 3711 but never sent by this transport
    if (!(word & ENCRYPTED_FLAG)) return { error: 'malformed' };
    const index = word & MAX_SRTCP_INDEX;
    const clear = packet.subarray(0, SRTCP_CLEAR_BYTES);
    const ssrc = ((clear[4]! << 24) | (clear[5]! << 16) | (clear[6]! << 8) | clear[7]!) >>> 0;
    const tagAt = trailerAt - TAG_BYTES;
    const aad = Buffer.concat([clear, trailer]);
    const plaintext = open(this.rtcpCipher, rtcpIv(this.keys.rtcpSalt, ssrc, index), aad, packet.subarray(SRTCP_CLEAR_BYTES, tagAt), packet.subarray(tagAt, trailerAt));
    if (!plaintext) return { error: 'auth' };
    const window = this.rtcp.get(ssrc);
    if (window && !window.accepts(index)) return { error: 'replay' };
    this.rtcp.record(ssrc, index);
    return { compound: Buffer.concat([clear, plaintext]), index };
  }
}
