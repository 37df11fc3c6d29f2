import type { RtpVideoCodec } from './depacketize';

/**
 * A minimal MPEG-TS muxer for one video stream, shaped for a decoder that must output each frame as
 * soon as its bytes arrive: one PES per access unit with its length set, so ffmpeg's demuxer hands the
 * PES on at its last byte instead of waiting for the next one to start.
 */
export const TS_PACKET_BYTES = 188;
export const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
const PAT_PID = 0;
const PROGRAM_NUMBER = 1;
const STREAM_TYPE: Record<RtpVideoCodec, number> = { h264: 0x1b, hevc: 0x24 };
const VIDEO_STREAM_ID = 0xe0;

const TS_HEADER_BYTES = 4;
const TS_PAYLOAD_BYTES = TS_PACKET_BYTES - TS_HEADER_BYTES;
/** Adaptation field length byte, flags byte and the 6-byte PCR. */
const PCR_FIELD_BYTES = 8;
/** Start code prefix, stream id, length; flags, header length; the 5-byte PTS. */
const PES_HEADER_BYTES = 14;
/** What PES_packet_length counts: everything after the length field. */
const PES_LENGTH_OVERHEAD = PES_HEADER_BYTES - 6;
const MAX_PES_LENGTH = 0xffff;
const CLOCK_PER_MS = 90;
const PTS_MODULUS = 2 ** 33;
const TABLES_INTERVAL_MS = 1000;

/** stream_id of a padding stream (ISO/IEC 13818-1): PES_packet_length, then only 0xFF padding bytes. */
const PADDING_STREAM_ID = 0xbe;
const PADDING_BYTES = 4;

export class TsWriter {
  private readonly counters = new Map<number, number>();
  /** ptsMs of the last PAT/PMT, null before the first. */
  private tablesAtMs: number | null = null;

  constructor(private readonly codec: RtpVideoCodec) {}

  /**
   * The 188-byte TS packets for one access unit (Annex B): PAT and PMT before the first unit, before
   * every keyframe and at least once a second; then the PES, its PTS from `ptsMs` on the 90 kHz clock.
   * One buffer, the access unit copied once: at 100 Mbit/s this runs 60 times a second over 200 KB.
   */
  write(accessUnit: Uint8Array, ptsMs: number, keyframe: boolean): Buffer {
    const tables = this.tablesAtMs === null || keyframe || Math.abs(ptsMs - this.tablesAtMs) >= TABLES_INTERVAL_MS;
    if (tables) this.tablesAtMs = ptsMs;
    const pesBytes = PES_HEADER_BYTES + accessUnit.length;
    const firstPayload = Math.min(pesBytes, TS_PAYLOAD_BYTES - PCR_FIELD_BYTES);
    const count = 1 + Math.ceil((pesBytes - firstPayload) / TS_PAYLOAD_BYTES);
    // A PES too long for its 16-bit length goes out with length 0 (unbounded), and the demuxer only
    // knows it is over when the next PES starts on the PID: a whole frame of delay. A tiny padding-stream
    // PES on the video PID ends it now: ffmpeg's demuxer hands on the unbounded PES at that PES's start and
    // then drops the padding, so the decoder gets nothing more. (Not a PES with just an access unit
    // delimiter: that reaches the decoder as a packet of its own, and ffmpeg's H.264 decoder logs
    // "no frame!" and "Invalid data found when processing input" for each one.) Past 200 KiB ffmpeg's
    // demuxer cuts an unbounded PES into pieces by itself, which no muxing here can prevent.
    const bounded = PES_LENGTH_OVERHEAD + accessUnit.length <= MAX_PES_LENGTH;
    const tablePackets = tables ? 2 : 0;
    // every byte is written below: headers, adaptation fields, payload, PSI stuffing
    const out = Buffer.allocUnsafe((tablePackets + count + (bounded ? 0 : 1)) * TS_PACKET_BYTES);
    if (tables) {
      this.sectionPacket(PAT_PID, PAT_SECTION, out, 0);
      this.sectionPacket(PMT_PID, PMT_SECTIONS[this.codec], out, TS_PACKET_BYTES);
    }
    const end = this.pesPackets(accessUnit, ptsFromMs(ptsMs), keyframe, out, tablePackets * TS_PACKET_BYTES, count, firstPayload);
    if (!bounded) this.paddingPacket(out, end);
    return out;
  }

  private nextCounter(pid: number): number {
    const counter = this.counters.get(pid) ?? 0;
    this.counters.set(pid, (counter + 1) & 0x0f);
    return counter;
  }

  /** One packet at `at`: pointer field, the section, 0xFF after it (PSI stuffing). */
  private sectionPacket(pid: number, section: Buffer, out: Buffer, at: number): void {
    out.fill(0xff, at, at + TS_PACKET_BYTES);
    writeTsHeader(out, at, pid, true, false, this.nextCounter(pid));
    out[at + TS_HEADER_BYTES] = 0; // pointer field
    section.copy(out, at + TS_HEADER_BYTES + 1);
  }

  /** One TS packet at `at` on the video PID with a padding-stream PES, its length set, after adaptation-field stuffing. */
  private paddingPacket(out: Buffer, at: number): void {
    const pesBytes = 6 + PADDING_BYTES;
    const fieldBytes = TS_PAYLOAD_BYTES - pesBytes;
    writeTsHeader(out, at, VIDEO_PID, true, true, this.nextCounter(VIDEO_PID));
    writeAdaptationField(out, at + TS_HEADER_BYTES, fieldBytes, null, false);
    const pes = at + TS_HEADER_BYTES + fieldBytes;
    out.writeUIntBE(0x000001, pes, 3);
    out[pes + 3] = PADDING_STREAM_ID;
    out.writeUInt16BE(PADDING_BYTES, pes + 4);
    out.fill(0xff, pes + 6, pes + pesBytes);
  }

  /**
   * The PES across `count` TS packets from `base`: PCR on the first, adaptation-field stuffing (not
   * payload 0xFF) on the last; returns where the next packet goes. The PES is written once, flush with
   * the end of its packets, and each packet's share moved down into place (copyWithin, no copy of its own):
   * a share never moves up, so it never lands on one not yet moved.
   */
  private pesPackets(data: Uint8Array, pts: number, randomAccess: boolean, out: Buffer, base: number, count: number, firstPayload: number): number {
    const pesBytes = PES_HEADER_BYTES + data.length;
    const end = base + count * TS_PACKET_BYTES;
    const pesAt = end - pesBytes;
    writePesHeader(out, pesAt, data.length, pts);
    out.set(data, pesAt + PES_HEADER_BYTES);
    let offset = 0;
    for (let index = 0; index < count; index += 1) {
      const first = index === 0;
      const length = Math.min(first ? firstPayload : TS_PAYLOAD_BYTES, pesBytes - offset);
      const at = base + index * TS_PACKET_BYTES;
      const fieldBytes = TS_PAYLOAD_BYTES - length;
      out.copyWithin(at + TS_HEADER_BYTES + fieldBytes, pesAt + offset, pesAt + offset + length);
      offset += length;
      writeTsHeader(out, at, VIDEO_PID, first, fieldBytes > 0, this.nextCounter(VIDEO_PID));
      if (fieldBytes > 0) writeAdaptationField(out, at + TS_HEADER_BYTES, fieldBytes, first ? pts : null, first && randomAccess);
    }
    return end;
  }
}

function ptsFromMs(ms: number): number {
  const ticks = Math.round(ms * CLOCK_PER_MS) % PTS_MODULUS;
  return ticks < 0 ? ticks + PTS_MODULUS : ticks;
}

function writeTsHeader(into: Buffer, at: number, pid: number, unitStart: boolean, adaptationField: boolean, counter: number): void {
  into[at] = 0x47;
  into[at + 1] = (unitStart ? 0x40 : 0) | (pid >> 8);
  into[at + 2] = pid & 0xff;
  into[at + 3] = (adaptationField ? 0x30 : 0x10) | counter;
}

/** An adaptation field of exactly `bytes` bytes: the PCR if given, then 0xFF stuffing. */
function writeAdaptationField(into: Buffer, at: number, bytes: number, pcrBase: number | null, randomAccess: boolean): void {
  into[at] = bytes - 1;
  if (bytes === 1) return;
  into[at + 1] = (randomAccess ? 0x40 : 0) | (pcrBase !== null ? 0x10 : 0);
  let filled = 2;
  if (pcrBase !== null) {
    // 33-bit base, 6 reserved bits, 9-bit extension (0)
    into[at + 2] = Math.floor(pcrBase / 2 ** 25) & 0xff;
    into[at + 3] = Math.floor(pcrBase / 2 ** 17) & 0xff;
    into[at + 4] = Math.floor(pcrBase / 2 ** 9) & 0xff;
    into[at + 5] = Math.floor(pcrBase / 2) & 0xff;
    into[at + 6] = ((pcrBase % 2) << 7) | 0x7e;
    into[at + 7] = 0;
    filled = PCR_FIELD_BYTES;
  }
  into.fill(0xff, at + filled, at + bytes);
}

function writePesHeader(into: Buffer, at: number, dataBytes: number, pts: number): void {
  into.writeUIntBE(0x000001, at, 3);
  into[at + 3] = VIDEO_STREAM_ID;
  const length = PES_LENGTH_OVERHEAD + dataBytes;
  into.writeUInt16BE(length <= MAX_PES_LENGTH ? length : 0, at + 4);
  into[at + 6] = 0x84; // marker bits, data alignment: the payload starts with an access unit
  into[at + 7] = 0x80; // PTS only
  into[at + 8] = 5;
  into[at + 9] = 0x21 | ((Math.floor(pts / 2 ** 30) & 0x07) << 1);
  into.writeUInt16BE(((Math.floor(pts / 2 ** 15) & 0x7fff) << 1) | 1, at + 10);
  into.writeUInt16BE(((pts & 0x7fff) << 1) | 1, at + 12);
}

function patSection(): Buffer {
  return withCrc([
    0x00, 0xb0, 13, // table id, section length
    0x00, 0x01, 0xc1, 0x00, 0x00, // transport stream id, version 0 current, section 0 of 0
    PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xff, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff,
  ]);
}

function pmtSection(streamType: number): Buffer {
  return withCrc([
    0x02, 0xb0, 18, // table id, section length
    PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xff, 0xc1, 0x00, 0x00,
    0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00, // PCR PID, no program descriptors
    streamType, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00,
  ]);
}

function withCrc(bytes: number[]): Buffer {
  const section = Buffer.alloc(bytes.length + 4);
  Buffer.from(bytes).copy(section);
  section.writeUInt32BE(crc32Mpeg2(section.subarray(0, bytes.length)), bytes.length);
  return section;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte << 24;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2: polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor. */
export function crc32Mpeg2(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

const PAT_SECTION = patSection();
const PMT_SECTIONS: Record<RtpVideoCodec, Buffer> = { h264: pmtSection(STREAM_TYPE.h264), hevc: pmtSection(STREAM_TYPE.hevc) };
