/**
 * The RTCP packets the video transport uses (RFC 3550, RFC 4585): sender and receiver reports, generic
 * NACK, PLI, and an APP packet in which the host tells the receiver the round trip it measured.
 * Each builder returns one packet; `compound` joins them. `parseCompound` reads untrusted bytes: it never
 * throws, bounds its work, skips packet types it does not know and rejects the whole compound on any
 * framing error.
 */
export interface SenderReport {
  ssrc: number;
  /** Wall-clock ms at the report, sent as 64-bit NTP; parsed back to within a microsecond. */
  ntpMs: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the previous report, in 1/256. */
  fractionLost: number;
  /** Signed 24-bit (duplicates can make it negative); clamped when written. */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSeq: number;
  jitter: number;
  /** Middle 32 bits of the NTP time of the last SR received (`ntpMiddle32`), 0 when none. */
  lsr: number;
  /** Delay since that SR, in 1/65536 s. */
  dlsr: number;
}

export interface ReceiverReport {
  ssrc: number;
  /** Written when present; parsed as the first block when a report carries several. */
  block?: ReportBlock;
}

export interface GenericNack {
  senderSsrc: number;
  mediaSsrc: number;
  seqs: number[];
}

export interface PictureLossIndication {
  senderSsrc: number;
  mediaSsrc: number;
}

export interface RttReport {
  ssrc: number;
  rttUs: number;
}

export type RtcpPacket =
  | ({ type: 'sr' } & SenderReport)
  | ({ type: 'rr' } & ReceiverReport)
  | ({ type: 'nack' } & GenericNack)
  | ({ type: 'pli' } & PictureLossIndication)
  | ({ type: 'app' } & RttReport);

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_APP = 204;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const RTT_APP_NAME = 'GBRT';
export const MAX_NACK_ENTRIES = 64;
export const MAX_COMPOUND_PACKETS = 16;

const VERSION = 2;
const COMMON_HEADER_BYTES = 4;
const REPORT_BLOCK_BYTES = 24;
const FEEDBACK_BYTES = 12;
const FMT_GENERIC_NACK = 1;
const FMT_PLI = 1;
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 2 ** 32;
const BITMASK_SEQS = 16;

export function buildSenderReport(report: SenderReport): Buffer {
  const packet = startPacket(0, RTCP_SR, 28);
  packet.writeUInt32BE(report.ssrc >>> 0, 4);
  const { seconds, fraction } = toNtp(report.ntpMs);
  packet.writeUInt32BE(seconds, 8);
  packet.writeUInt32BE(fraction, 12);
  packet.writeUInt32BE(report.rtpTimestamp >>> 0, 16);
  packet.writeUInt32BE(report.packetCount >>> 0, 20);
  packet.writeUInt32BE(report.octetCount >>> 0, 24);
  return packet;
}

export function buildReceiverReport(report: ReceiverReport): Buffer {
  const block = report.block;
  const packet = startPacket(block ? 1 : 0, RTCP_RR, 8 + (block ? REPORT_BLOCK_BYTES : 0));
  packet.writeUInt32BE(report.ssrc >>> 0, 4);
  if (block) {
    packet.writeUInt32BE(block.ssrc >>> 0, 8);
    packet[12] = block.fractionLost & 0xff;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(block.cumulativeLost)));
    packet.writeUIntBE(lost & 0xffffff, 13, 3);
    packet.writeUInt32BE(block.highestSeq >>> 0, 16);
    packet.writeUInt32BE(block.jitter >>> 0, 20);
    packet.writeUInt32BE(block.lsr >>> 0, 24);
    packet.writeUInt32BE(block.dlsr >>> 0, 28);
  }
  return packet;
}

/**
 * Generic NACK: the seqs (in any order, duplicates allowed) are sorted in wrap-aware order and packed into
 * PID + BLP pairs; past MAX_NACK_ENTRIES pairs the latest seqs are left out for the next NACK.
 */
export function buildNack(nack: GenericNack): Buffer {
  const entries = packNackEntries(nack.seqs);
  if (entries.length === 0) throw new RangeError('a NACK needs at least one sequence number');
  const packet = startPacket(FMT_GENERIC_NACK, RTCP_RTPFB, FEEDBACK_BYTES + entries.length * 4);
  packet.writeUInt32BE(nack.senderSsrc >>> 0, 4);
  packet.writeUInt32BE(nack.mediaSsrc >>> 0, 8);
  entries.forEach((entry, i) => {
    packet.writeUInt16BE(entry.pid, FEEDBACK_BYTES + i * 4);
    packet.writeUInt16BE(entry.blp, FEEDBACK_BYTES + i * 4 + 2);
  });
  return packet;
}

export function buildPli(pli: PictureLossIndication): Buffer {
  const packet = startPacket(FMT_PLI, RTCP_PSFB, FEEDBACK_BYTES);
  packet.writeUInt32BE(pli.senderSsrc >>> 0, 4);
  packet.writeUInt32BE(pli.mediaSsrc >>> 0, 8);
  return packet;
}

export function buildRttApp(report: RttReport): Buffer {
  const packet = startPacket(0, RTCP_APP, 16);
  packet.writeUInt32BE(report.ssrc >>> 0, 4);
  packet.write(RTT_APP_NAME, 8, 'latin1');
  packet.writeUInt32BE(report.rttUs >>> 0, 12);
  return packet;
}

export function compound(packets: Buffer[]): Buffer {
  return Buffer.concat(packets);
}

/** The LSR value a receiver will echo for an SR sent at wall-clock `ms`: the middle 32 bits of its NTP time. */
export function ntpMiddle32(ms: number): number {
  const { seconds, fraction } = toNtp(ms);
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/**
 * Round trip in ms from a report block received at `nowMs` (RFC 3550 §6.4.1: A - LSR - DLSR, on the clock
 * that sent the SR). Null when the block echoes no SR; a report claiming more delay than has passed gives 0.
 */
export function rttFromReport(nowMs: number, lsr: number, dlsr: number): number | null {
  if (lsr === 0) return null;
  const units = (ntpMiddle32(nowMs) - (lsr >>> 0) - (dlsr >>> 0)) >>> 0;
  if (units >= TWO_32 / 2) return 0;
  return (units * 1000) / 65536;
}

/**
 * The next round-trip estimate from a sample: down at once, up slowly (a fifth of the way per sample).
 * A sample is the path plus however long either end sat on the reports, never less than the path: the
 * first one, taken at start-up, read 171 ms on a 30 ms link, and a smoothed average kept NACKs off for
 * seconds; a real rise is believed as it persists.
 */
export function nextRttEstimate(previous: number | null, sample: number): number {
  return previous === null || sample < previous ? sample : 0.8 * previous + 0.2 * sample;
}

/** Reads a compound RTCP packet; null when anything in it is malformed. Never throws. */
export function parseCompound(buf: Uint8Array): RtcpPacket[] | null {
  if (buf.length < COMMON_HEADER_BYTES) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const packets: RtcpPacket[] = [];
  let offset = 0;
  let count = 0;
  while (offset < buf.length) {
    count += 1;
    if (count > MAX_COMPOUND_PACKETS || buf.length - offset < COMMON_HEADER_BYTES) return null;
    const first = buf[offset]!;
    if (first >> 6 !== VERSION) return null;
    const packetBytes = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + packetBytes > buf.length) return null;
    let contentBytes = packetBytes;
    if (first & 0x20) {
      const padding = buf[offset + packetBytes - 1]!;
      if (padding === 0 || padding > packetBytes - COMMON_HEADER_BYTES) return null;
      contentBytes -= padding;
    }
    const packet = parsePacket(view, offset, contentBytes);
    if (packet === null) return null;
    if (packet !== 'skip') packets.push(packet);
    offset += packetBytes;
  }
  return packets;
}

/** One packet's content (padding removed); 'skip' for types this transport does not use. */
function parsePacket(view: DataView, offset: number, length: number): RtcpPacket | 'skip' | null {
  const count = view.getUint8(offset) & 0x1f;
  const type = view.getUint8(offset + 1);
  const u32 = (at: number): number => view.getUint32(offset + at);
  switch (type) {
    case RTCP_SR:
      if (length < 28 + count * REPORT_BLOCK_BYTES) return null;
      return { type: 'sr', ssrc: u32(4), ntpMs: fromNtp(u32(8), u32(12)), rtpTimestamp: u32(16), packetCount: u32(20), octetCount: u32(24) };
    case RTCP_RR: {
      if (length < 8 + count * REPORT_BLOCK_BYTES) return null;
      const report: RtcpPacket = { type: 'rr', ssrc: u32(4) };
      if (count > 0) report.block = readReportBlock(view, offset + 8);
      return report;
    }
    case RTCP_RTPFB:
      if (count !== FMT_GENERIC_NACK) return 'skip';
      if (length < FEEDBACK_BYTES + 4) return null;
      return { type: 'nack', senderSsrc: u32(4), mediaSsrc: u32(8), seqs: readNackSeqs(view, offset + FEEDBACK_BYTES, Math.floor((length - FEEDBACK_BYTES) / 4)) };
    case RTCP_PSFB:
      if (count !== FMT_PLI) return 'skip';
      if (length < FEEDBACK_BYTES) return null;
      return { type: 'pli', senderSsrc: u32(4), mediaSsrc: u32(8) };
    case RTCP_APP:
      if (length < 12) return null;
      if (count !== 0 || readName(view, offset + 8) !== RTT_APP_NAME) return 'skip';
      if (length < 16) return null;
      return { type: 'app', ssrc: u32(4), rttUs: u32(12) };
    default:
      return 'skip';
  }
}

function readReportBlock(view: DataView, at: number): ReportBlock {
  const lostField = view.getUint32(at + 4) & 0xffffff;
  return {
    ssrc: view.getUint32(at),
    fractionLost: view.getUint8(at + 4),
    cumulativeLost: lostField >= 0x800000 ? lostField - 0x1000000 : lostField,
    highestSeq: view.getUint32(at + 8),
    jitter: view.getUint32(at + 12),
    lsr: view.getUint32(at + 16),
    dlsr: view.getUint32(at + 20),
  };
}

function readNackSeqs(view: DataView, at: number, entries: number): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < Math.min(entries, MAX_NACK_ENTRIES); i += 1) {
    const pid = view.getUint16(at + i * 4);
    const blp = view.getUint16(at + i * 4 + 2);
    seqs.push(pid);
    for (let bit = 0; bit < BITMASK_SEQS; bit += 1) if (blp & (1 << bit)) seqs.push((pid + bit + 1) & 0xffff);
  }
  return seqs;
}

function readName(view: DataView, at: number): string {
  return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
}

function packNackEntries(seqs: number[]): { pid: number; blp: number }[] {
  const entries: { pid: number; blp: number }[] = [];
  for (const seq of wrapOrdered(seqs)) {
    const last = entries.at(-1);
    const distance = last ? (seq - last.pid) & 0xffff : 0;
    if (last && distance >= 1 && distance <= BITMASK_SEQS) {
      last.blp |= 1 << (distance - 1);
    } else {
      if (entries.length === MAX_NACK_ENTRIES) break;
      entries.push({ pid: seq, blp: 0 });
    }
  }
  return entries;
}

/** Distinct seqs in ascending order across the wrap: the run starts after the widest gap between them. */
function wrapOrdered(seqs: number[]): number[] {
  const sorted = [...new Set(seqs.map((seq) => seq & 0xffff))].sort((a, b) => a - b);
  if (sorted.length < 2) return sorted;
  let start = 0;
  let widest = -1;
  for (let i = 0; i < sorted.length; i += 1) {
    const next = (i + 1) % sorted.length;
    const gap = (sorted[next]! - sorted[i]! + 65536) & 0xffff;
    if (gap > widest) {
      widest = gap;
      start = next;
    }
  }
  return [...sorted.slice(start), ...sorted.slice(0, start)];
}

function startPacket(count: number, type: number, bytes: number): Buffer {
  const packet = Buffer.alloc(bytes);
  packet[0] = (VERSION << 6) | count;
  packet[1] = type;
  packet.writeUInt16BE(bytes / 4 - 1, 2);
  return packet;
}

function toNtp(ms: number): { seconds: number; fraction: number } {
  const wholeSeconds = Math.floor(ms / 1000);
  const fraction = Math.min(TWO_32 - 1, Math.floor(((ms - wholeSeconds * 1000) / 1000) * TWO_32));
  const seconds = (((wholeSeconds + NTP_UNIX_OFFSET_S) % TWO_32) + TWO_32) % TWO_32;
  return { seconds, fraction };
}

/** NTP seconds with the top bit clear are era 1 (from 2036 on), as RFC 4330 §3 suggests. */
function fromNtp(seconds: number, fraction: number): number {
  const eraSeconds = seconds >= TWO_32 / 2 ? seconds : seconds + TWO_32;
  return (eraSeconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction * 1000) / TWO_32;
}
