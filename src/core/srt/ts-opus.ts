import { crc32Mpeg2, TS_PACKET_BYTES } from '../rtp/mpegts-writer';

/**
 * The host's sound inside the srt stream's MPEG-TS: our own Opus packets (src/core/audio's 10 ms frames
 * with in-band FEC) as one PES each on their own PID, stamped on the 90 kHz clock the encoder stamps the
 * picture with (host wall-clock ms × 90: ffmpeg's -use_wallclock_as_timestamps with -copyts), in the
 * Opus-in-TS layout (ETSI TS 102 366 style: registration descriptor "Opus", a control header with the
 * access unit's size before each packet), which ffmpeg's demuxer reads too. ffmpeg's PMT is rewritten
 * to declare the stream.
 */
export const OPUS_PID = 0x101;
const PAT_PID = 0;
const PRIVATE_STREAM_1 = 0xbd;
const STREAM_TYPE_PRIVATE_PES = 0x06;
const PTS_MODULUS = 2 ** 33;
const SYNC = 0x47;
/** Registration descriptor "Opus", then the Opus extension descriptor: 2 channels (RTP-style mapping family 0). */
const OPUS_DESCRIPTORS = Buffer.from([0x05, 0x04, 0x4f, 0x70, 0x75, 0x73, 0x7f, 0x02, 0x80, 0x02]);

function ptsBytes(pts: number): Buffer {
  const value = ((pts % PTS_MODULUS) + PTS_MODULUS) % PTS_MODULUS;
  const high = Math.floor(value / 2 ** 30);
  const mid = Math.floor(value / 2 ** 15) & 0x7fff;
  const low = value & 0x7fff;
  return Buffer.from([0x21 | (high << 1), mid >> 7, ((mid & 0x7f) << 1) | 1, low >> 7, ((low & 0x7f) << 1) | 1]);
}

function readPts(bytes: Buffer, at: number): number {
  return (bytes[at]! & 0x0e) * 2 ** 29 + bytes[at + 1]! * 2 ** 22 + (bytes[at + 2]! & 0xfe) * 2 ** 14 + bytes[at + 3]! * 2 ** 7 + (bytes[at + 4]! >> 1);
}

/** The host's side: Opus packets to TS packets on OPUS_PID, and ffmpeg's PMT with the stream added. */
export class TsOpusMuxer {
  private cc = 0;
  private pmtPid: number | null = null;
  /** A PMT declaring the sound has passed through `tables`. */
  declared = false;

  /** One Opus packet, its first sample captured at `capturedAtMs` (host wall clock), as whole TS packets. */
  packet(opus: Buffer, capturedAtMs: number): Buffer {
    const sizeBytes: number[] = [];
    for (let n = opus.length; ; n -= 255) {
      sizeBytes.push(Math.min(n, 255));
      if (n < 255) break;
    }
    const payload = Buffer.concat([Buffer.from([0x7f, 0xe0, ...sizeBytes]), opus]);
    const header = Buffer.concat([Buffer.from([0, 0, 1, PRIVATE_STREAM_1, 0, 0, 0x80, 0x80, 5]), ptsBytes(Math.round(capturedAtMs * 90))]);
    header.writeUInt16BE(header.length - 6 + payload.length, 4);
    const pes = Buffer.concat([header, payload]);
    const count = Math.ceil(pes.length / 184);
    const out = Buffer.alloc(count * TS_PACKET_BYTES);
    let taken = 0;
    for (let i = 0; i < count; i += 1) {
      const at = i * TS_PACKET_BYTES;
      const chunk = Math.min(184, pes.length - taken);
      out[at] = SYNC;
      out[at + 1] = (i === 0 ? 0x40 : 0) | (OPUS_PID >> 8);
      out[at + 2] = OPUS_PID & 0xff;
      const stuffing = 184 - chunk;
      out[at + 3] = (stuffing > 0 ? 0x30 : 0x10) | this.cc;
      this.cc = (this.cc + 1) & 0x0f;
      let body = at + 4;
      if (stuffing > 0) {
        // an adaptation field of `stuffing` bytes: its length byte, then flags and 0xFF stuffing
        out[body] = stuffing - 1;
        if (stuffing > 1) {
          out[body + 1] = 0;
          out.fill(0xff, body + 2, body + stuffing);
        }
        body += stuffing;
      }
      pes.copy(out, body, taken, taken + chunk);
      taken += chunk;
    }
    return out;
  }

  /**
   * The encoder's TS with the sound declared: each PMT section (one TS packet, as ffmpeg writes it for
   * one program) gains the Opus stream. Rewritten in place; everything else passes untouched.
   */
  tables(ts: Buffer): Buffer {
    for (let at = 0; at + TS_PACKET_BYTES <= ts.length; at += TS_PACKET_BYTES) {
      if (ts[at] !== SYNC || !(ts[at + 1]! & 0x40)) continue;
      const pid = ((ts[at + 1]! & 0x1f) << 8) | ts[at + 2]!;
      if (pid === PAT_PID) this.pmtPid = patPmtPid(ts.subarray(at, at + TS_PACKET_BYTES)) ?? this.pmtPid;
      else if (pid === this.pmtPid) this.declared = addOpusToPmt(ts.subarray(at, at + TS_PACKET_BYTES)) || this.declared;
    }
    return ts;
  }
}

/** The payload offset of a TS packet (after its adaptation field), or null when it carries none. */
function payloadAt(packet: Buffer): number | null {
  const control = (packet[3]! >> 4) & 0x3;
  if (!(control & 0x1)) return null;
  const at = control & 0x2 ? 5 + packet[4]! : 4;
  return at < TS_PACKET_BYTES ? at : null;
}

function patPmtPid(packet: Buffer): number | null {
  const at = payloadAt(packet);
  if (at === null) return null;
  const section = at + 1 + packet[at]!;
  if (section + 12 > TS_PACKET_BYTES || packet[section] !== 0x00) return null;
  return ((packet[section + 10]! & 0x1f) << 8) | packet[section + 11]!;
}

/** Adds the Opus stream's entry to a one-packet PMT section (once), fixing its length and CRC; whether it is declared there now. */
function addOpusToPmt(packet: Buffer): boolean {
  const at = payloadAt(packet);
  if (at === null) return false;
  const section = at + 1 + packet[at]!;
  if (section + 12 > TS_PACKET_BYTES || packet[section] !== 0x02) return false;
  const length = ((packet[section + 1]! & 0x0f) << 8) | packet[section + 2]!;
  const end = section + 3 + length;
  const entry = Buffer.concat([Buffer.from([STREAM_TYPE_PRIVATE_PES, 0xe0 | (OPUS_PID >> 8), OPUS_PID & 0xff, 0xf0, OPUS_DESCRIPTORS.length]), OPUS_DESCRIPTORS]);
  if (end > TS_PACKET_BYTES || end + entry.length > TS_PACKET_BYTES) return false;
  if (esPids(packet, section, end).includes(OPUS_PID)) return true;
  // the entry goes before the CRC
  const crcAt = end - 4;
  const body = Buffer.concat([packet.subarray(section, crcAt), entry]);
  const newLength = length + entry.length;
  body[1] = (body[1]! & 0xf0) | (newLength >> 8);
  body[2] = newLength & 0xff;
  body.copy(packet, section);
  packet.writeUInt32BE(crc32Mpeg2(body), section + body.length);
  packet.fill(0xff, section + body.length + 4);
  return true;
}

/** Takes a stream's entry out of a one-packet PMT section (addOpusToPmt undone: ffmpeg's own section again). */
function removeFromPmt(packet: Buffer, section: number, end: number, pid: number): void {
  const programInfo = ((packet[section + 10]! & 0x0f) << 8) | packet[section + 11]!;
  for (let at = section + 12 + programInfo; at + 5 <= end - 4;) {
    const size = 5 + (((packet[at + 3]! & 0x0f) << 8) | packet[at + 4]!);
    if (at + size > end - 4) return;
    if ((((packet[at + 1]! & 0x1f) << 8) | packet[at + 2]!) === pid) {
      const body = Buffer.concat([packet.subarray(section, at), packet.subarray(at + size, end - 4)]);
      const length = body.length + 4 - 3;
      body[1] = (body[1]! & 0xf0) | (length >> 8);
      body[2] = length & 0xff;
      body.copy(packet, section);
      packet.writeUInt32BE(crc32Mpeg2(body), section + body.length);
      packet.fill(0xff, section + body.length + 4, end);
      return;
    }
    at += size;
  }
}

/** The elementary streams' PIDs and types of a PMT section. */
function esEntries(packet: Buffer, section: number, end: number): { pid: number; type: number; descriptors: Buffer }[] {
  const programInfo = ((packet[section + 10]! & 0x0f) << 8) | packet[section + 11]!;
  const entries: { pid: number; type: number; descriptors: Buffer }[] = [];
  for (let at = section + 12 + programInfo; at + 5 <= end - 4;) {
    const infoLength = ((packet[at + 3]! & 0x0f) << 8) | packet[at + 4]!;
    entries.push({ type: packet[at]!, pid: ((packet[at + 1]! & 0x1f) << 8) | packet[at + 2]!, descriptors: packet.subarray(at + 5, Math.min(end - 4, at + 5 + infoLength)) });
    at += 5 + infoLength;
  }
  return entries;
}

function esPids(packet: Buffer, section: number, end: number): number[] {
  return esEntries(packet, section, end).map((entry) => entry.pid);
}

function isOpus(entry: { type: number; descriptors: Buffer }): boolean {
  return entry.type === STREAM_TYPE_PRIVATE_PES && entry.descriptors.includes(Buffer.from('Opus'));
}

export interface DemuxedOpus {
  payload: Buffer;
  /** The PES's PTS (90 kHz, modulo 2^33). */
  pts: number;
}

export interface DemuxedChunk {
  /** The TS for the decoder: the sound's packets taken out (the picture's bytes as they came). */
  video: Buffer;
  /** Opus packets whose PES completed in this chunk. */
  sound: DemuxedOpus[];
  /** The PTS of each picture PES that starts in this chunk. */
  videoPts: number[];
  /** The sound's TS packets that arrived out of order (continuity counter jumps): packets SRT never delivered. */
  gaps: number;
}

const MAX_PES_BYTES = 16 * 1024;

/**
 * The peer's side: splits the srt stream's TS into the picture (to the decoder as ffmpeg wrote it: the
 * sound's packets taken out and its PMT entry removed again) and the sound's Opus packets with their
 * PTS. The sound is on OPUS_PID until a PMT says otherwise: it may come before the first PMT, and the
 * decoder must never see it (with its short probe, ffmpeg took a stray Opus PES for a stream of its own
 * and gave up on the picture). Untrusted bytes: anything malformed is skipped, never thrown; PMT
 * packets are rewritten in the pushed buffer itself.
 */
export class TsOpusDemuxer {
  private pmtPid: number | null = null;
  private opusPid: number | null = OPUS_PID;
  private videoPid: number | null = null;
  private rest: Buffer = Buffer.alloc(0);
  private pes: Buffer[] = [];
  private pesBytes = 0;
  private cc: number | null = null;
  /** Bytes of the sound's TS packets so far (its bitrate). */
  soundBytes = 0;

  push(chunk: Buffer): DemuxedChunk {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const whole = data.length - (data.length % TS_PACKET_BYTES);
    this.rest = whole < data.length ? Buffer.from(data.subarray(whole)) : Buffer.alloc(0);
    const sound: DemuxedOpus[] = [];
    const videoPts: number[] = [];
    const keep: Buffer[] = [];
    let gaps = 0;
    let keepFrom = 0;
    for (let at = 0; at < whole; at += TS_PACKET_BYTES) {
      const packet = data.subarray(at, at + TS_PACKET_BYTES);
      if (packet[0] !== SYNC) continue;
      const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
      const start = (packet[1]! & 0x40) !== 0;
      if (pid === PAT_PID && start) this.pmtPid = patPmtPid(packet) ?? this.pmtPid;
      else if (pid === this.pmtPid && start) this.readPmt(packet);
      if (pid !== this.opusPid || this.opusPid === null) {
        if (pid === this.videoPid && start) {
          const pts = pesPts(packet);
          if (pts !== null) videoPts.push(pts);
        }
        continue;
      }
      // the sound's packet: out of the decoder's bytes
      if (at > keepFrom) keep.push(data.subarray(keepFrom, at));
      keepFrom = at + TS_PACKET_BYTES;
      this.soundBytes += TS_PACKET_BYTES;
      const cc = packet[3]! & 0x0f;
      const expected = this.cc === null ? cc : (this.cc + 1) & 0x0f;
      this.cc = cc;
      if (cc !== expected) {
        gaps += 1;
        this.pes = [];
        this.pesBytes = 0;
      }
      const payload = payloadAt(packet);
      if (payload === null) continue;
      if (start) {
        this.finish(sound);
        this.pes = [];
        this.pesBytes = 0;
      } else if (this.pes.length === 0) continue;
      if (this.pesBytes + TS_PACKET_BYTES > MAX_PES_BYTES) {
        this.pes = [];
        this.pesBytes = 0;
        continue;
      }
      this.pes.push(packet.subarray(payload));
      this.pesBytes += TS_PACKET_BYTES - payload;
      // a PES with its length set is complete at its last byte: hand it on now, not at the next one's start
      const first = this.pes[0]!;
      if (first.length >= 6 && first[0] === 0 && first[1] === 0 && first[2] === 1) {
        const length = first.readUInt16BE(4);
        if (length > 0 && this.pesBytes >= length + 6) {
          this.finish(sound);
          this.pes = [];
          this.pesBytes = 0;
        }
      }
    }
    if (keepFrom === 0) return { video: whole === data.length ? data : data.subarray(0, whole), sound, videoPts, gaps };
    if (keepFrom < whole) keep.push(data.subarray(keepFrom, whole));
    return { video: Buffer.concat(keep), sound, videoPts, gaps };
  }

  private readPmt(packet: Buffer): void {
    const at = payloadAt(packet);
    if (at === null) return;
    const section = at + 1 + packet[at]!;
    if (section + 12 > TS_PACKET_BYTES || packet[section] !== 0x02) return;
    const end = Math.min(TS_PACKET_BYTES, section + 3 + (((packet[section + 1]! & 0x0f) << 8) | packet[section + 2]!));
    const entries = esEntries(packet, section, end);
    const opus = entries.find(isOpus);
    this.opusPid = opus?.pid ?? null;
    this.videoPid = entries.find((entry) => !isOpus(entry))?.pid ?? null;
    if (opus) removeFromPmt(packet, section, end, opus.pid);
  }

  /** The collected PES: its PTS and the Opus access units after their control headers. */
  private finish(out: DemuxedOpus[]): void {
    if (this.pes.length === 0) return;
    const pes = Buffer.concat(this.pes);
    if (pes.length < 14 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1 || !(pes[7]! & 0x80)) return;
    const pts = readPts(pes, 9);
    const length = pes.readUInt16BE(4);
    const end = length > 0 ? Math.min(pes.length, length + 6) : pes.length;
    let at = 9 + pes[8]!;
    let index = 0;
    while (at + 2 < end && pes[at] === 0x7f && (pes[at + 1]! & 0xe0) === 0xe0) {
      const flags = pes[at + 1]!;
      at += 2;
      let size = 0;
      for (;;) {
        if (at >= end) return;
        const byte = pes[at++]!;
        size += byte;
        if (byte !== 255) break;
      }
      if (flags & 0x10) at += 2;
      if (flags & 0x08) at += 2;
      if (flags & 0x04) {
        if (at >= end) return;
        at += 1 + pes[at]!;
      }
      if (size === 0 || at + size > end) return;
      // more than one access unit in a PES: 10 ms apart (the host writes one per PES)
      out.push({ payload: Buffer.from(pes.subarray(at, at + size)), pts: (pts + index * 900) % PTS_MODULUS });
      index += 1;
      at += size;
    }
  }
}

/** The PTS of a PES starting in this TS packet, or null. */
function pesPts(packet: Buffer): number | null {
  const at = payloadAt(packet);
  if (at === null || at + 14 > TS_PACKET_BYTES) return null;
  if (packet[at] !== 0 || packet[at + 1] !== 0 || packet[at + 2] !== 1 || !(packet[at + 7]! & 0x80)) return null;
  return readPts(packet, at + 9);
}
