/**
 * Forward error correction for the RTP video transport: each frame's media packets are cut into blocks
 * of at most MAX_BLOCK_PACKETS, and every block gets m parity packets (Reed-Solomon, see reed-solomon.ts)
 * so that any k of its k+m packets give back the whole block.
 *
 * An FEC payload is an 8-byte header followed by one parity shard:
 *   baseSeq (u16 BE) | k (u8) | m (u8) | index (u8) | flags (u8, bit 0: the block ends the frame; bit 1: it starts it) | shardLength (u16 BE)
 * A data shard is the media payload behind its length (u16 BE), zero-padded to shardLength = 2 + the
 * longest payload of the block, so a recovered shard says how much of it is payload.
 */
import { ReedSolomon } from './reed-solomon';

export const MAX_BLOCK_PACKETS = 48;
export const FEC_HEADER_BYTES = 8;

const LENGTH_PREFIX_BYTES = 2;
const MAX_SHARDS = 255;
const MAX_SHARD_LENGTH = 0xffff;
const ENDS_FRAME_FLAG = 0x01;
const STARTS_FRAME_FLAG = 0x02;

export interface FecHeader {
  /** Sequence number of the block's first media packet; packet i has (baseSeq + i) mod 65536. */
  baseSeq: number;
  k: number;
  m: number;
  /** Which parity shard this is, 0..m-1. */
  index: number;
  /** The block's last media packet carries the RTP marker. */
  endsFrame: boolean;
  /** The block's first packet is the frame's first: where the frame starts, even when the packet before it was lost. */
  startsFrame: boolean;
  shardLength: number;
}

/** Splits a frame of `count` packets into contiguous blocks whose sizes differ by at most one. */
export function blocksForFrame(count: number): { start: number; k: number }[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`packet count must be a non-negative integer, got ${count}`);
  const blockCount = Math.ceil(count / MAX_BLOCK_PACKETS);
  const blocks: { start: number; k: number }[] = [];
  let start = 0;
  for (let b = 0; b < blockCount; b += 1) {
    const k = Math.floor(count / blockCount) + (b < count % blockCount ? 1 : 0);
    blocks.push({ start, k });
    start += k;
  }
  return blocks;
}

/**
 * Parity packets for a block of k media packets at an overhead ratio (0..1): ceil(k·ratio), at least
 * `min`, at least 1 when the ratio is above 0, and never more than k (or than 255 - k shards allow).
 */
export function parityCount(k: number, ratio: number, min = 1): number {
  const cap = Math.max(0, Math.min(MAX_SHARDS - k, k));
  const clamped = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
  // the epsilon keeps float noise (10 × 0.3 = 3.0000000000000004) from costing a whole packet
  const wanted = Math.max(Math.ceil(k * clamped - 1e-9), min, clamped > 0 ? 1 : 0);
  return Math.min(cap, wanted);
}

/** FEC packet payloads (header + parity shard) for one block of media payloads, in sequence order. */
export function buildFecPayloads(block: { baseSeq: number; payloads: readonly Uint8Array[]; endsFrame: boolean; startsFrame?: boolean }, m: number): Buffer[] {
  const k = block.payloads.length;
  if (k < 1 || !Number.isInteger(m) || m < 0 || k + m > MAX_SHARDS) throw new RangeError(`FEC block needs 1 <= k, 0 <= m, k + m <= ${MAX_SHARDS}; got k=${k}, m=${m}`);
  if (m === 0) return [];
  const longest = block.payloads.reduce((max, payload) => Math.max(max, payload.length), 0);
  const shardLength = LENGTH_PREFIX_BYTES + longest;
  if (shardLength > MAX_SHARD_LENGTH) throw new RangeError(`media payload of ${longest} bytes is too long for an FEC shard`);

  // the data shards are written straight into the coder's memory: no copy of each payload of its own
  const parity = new ReedSolomon(k, m).encodeWith(shardLength, (index, into) => {
    const payload = block.payloads[index]!;
    into[0] = payload.length >> 8;
    into[1] = payload.length & 0xff;
    into.set(payload, LENGTH_PREFIX_BYTES);
  });
  return parity.map((shard, index) => {
    const packet = Buffer.allocUnsafe(FEC_HEADER_BYTES + shardLength);
    packet.writeUInt16BE(block.baseSeq & 0xffff, 0);
    packet[2] = k;
    packet[3] = m;
    packet[4] = index;
    packet[5] = (block.endsFrame ? ENDS_FRAME_FLAG : 0) | (block.startsFrame ? STARTS_FRAME_FLAG : 0);
    packet.writeUInt16BE(shardLength, 6);
    packet.set(shard, FEC_HEADER_BYTES);
    return packet;
  });
}

/** The header and parity shard of an FEC payload; null for anything malformed. Never throws. */
export function parseFecPayload(payload: Uint8Array): { header: FecHeader; shard: Uint8Array } | null {
  if (payload.length < FEC_HEADER_BYTES) return null;
  const k = payload[2]!;
  const m = payload[3]!;
  const index = payload[4]!;
  const shardLength = (payload[6]! << 8) | payload[7]!;
  if (k < 1 || k + m > MAX_SHARDS || index >= m) return null;
  if (shardLength < LENGTH_PREFIX_BYTES || payload.length - FEC_HEADER_BYTES !== shardLength) return null;
  return {
    header: { baseSeq: (payload[0]! << 8) | payload[1]!, k, m, index, endsFrame: (payload[5]! & ENDS_FRAME_FLAG) !== 0, startsFrame: (payload[5]! & STARTS_FRAME_FLAG) !== 0, shardLength },
    // a plain view, even of a Buffer, whose slice() would share memory instead of copying
    shard: new Uint8Array(payload.buffer, payload.byteOffset + FEC_HEADER_BYTES, shardLength),
  };
}

/**
 * All k media payloads of a block, from the media payloads received (by index 0..k-1) and the parity
 * shards received (by index 0..m-1); null when too few arrived or what arrived does not fit the header
 * (a received payload longer than the shard, a recovered length beyond it). Parity shards of the wrong
 * length or out-of-range indices are not the block's and are left out.
 */
export function recoverBlock(header: FecHeader, media: ReadonlyMap<number, Uint8Array>, parity: ReadonlyMap<number, Uint8Array>): Uint8Array[] | null {
  const { k, m, shardLength } = header;
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > MAX_SHARDS) return null;
  if (!Number.isInteger(shardLength) || shardLength < LENGTH_PREFIX_BYTES || shardLength > MAX_SHARD_LENGTH) return null;
  const maxPayload = shardLength - LENGTH_PREFIX_BYTES;

  const received: (Uint8Array | undefined)[] = [];
  let missing = 0;
  for (let i = 0; i < k; i += 1) {
    const payload = media.get(i);
    if (payload && payload.length > maxPayload) return null;
    received.push(payload);
    if (!payload) missing += 1;
  }
  if (missing === 0) return received as Uint8Array[];

  const shards: (Uint8Array | null)[] = received.map((payload) => (payload ? dataShard(payload, shardLength) : null));
  for (let j = 0; j < m; j += 1) {
    const shard = parity.get(j);
    shards.push(shard && shard.length === shardLength ? shard : null);
  }
  if (!new ReedSolomon(k, m).reconstruct(shards)) return null;

  const payloads: Uint8Array[] = [];
  for (let i = 0; i < k; i += 1) {
    const payload = received[i];
    if (payload) {
      payloads.push(payload);
      continue;
    }
    const shard = shards[i]!;
    const length = (shard[0]! << 8) | shard[1]!;
    if (length > maxPayload) return null;
    payloads.push(shard.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length));
  }
  return payloads;
}

function dataShard(payload: Uint8Array, shardLength: number): Uint8Array {
  const shard = new Uint8Array(shardLength);
  shard[0] = payload.length >> 8;
  shard[1] = payload.length & 0xff;
  shard.set(payload, LENGTH_PREFIX_BYTES);
  return shard;
}

const LOSS_SMOOTHING = 0.3;
const LOSS_GAIN = 4;

/**
 * FEC overhead that follows the measured packet loss: base + 4·loss, clamped to [min, max], where loss is
 * the larger of the last observation and its moving average, so the overhead rises at once and falls slowly.
 */
export class FecOverhead {
  private readonly min: number;
  private readonly max: number;
  private readonly base: number;
  private last = 0;
  private average = 0;
  /** The link's queue is full: the random loss FEC covers meanwhile (its own loss is the queue's), else null. */
  private held: number | null = null;

  constructor(options: { min?: number; max?: number; base?: number } = {}) {
    const { min = 0.1, max = 0.5, base = 0.1 } = options;
    if (![min, max, base].every(Number.isFinite) || min < 0 || min > max) throw new RangeError(`FEC overhead needs finite 0 <= min <= max; got min=${min}, max=${max}, base=${base}`);
    this.min = min;
    this.max = max;
    this.base = base;
  }

  /** One loss measurement, a fraction 0..1 (anything else is clamped; NaN is ignored). */
  observe(lossRatio: number): void {
    if (Number.isNaN(lossRatio) || this.held !== null) return;
    const loss = Math.min(1, Math.max(0, lossRatio));
    this.last = loss;
    this.average = LOSS_SMOOTHING * loss + (1 - LOSS_SMOOTHING) * this.average;
  }

  /**
   * The link's queue is full (the bitrate controller's judgement): the loss reported meanwhile is the
   * queue's own tail drop, and more FEC on a full link only adds to it (it rose to 50% there, and the
   * bitrate step that nets FEC out landed far below the link). Until `release`, the overhead follows
   * `randomLoss`, the loss the link showed without a queue; the reports meanwhile are not counted.
   */
  hold(randomLoss: number): void {
    const loss = Number.isFinite(randomLoss) ? Math.min(1, Math.max(0, randomLoss)) : 0;
    this.held = loss;
    // the reports that came as the queue filled were its loss too: they do not outlast the hold
    this.last = loss;
    this.average = loss;
  }

  /** The queue is gone: reported loss counts again. */
  release(): void {
    this.held = null;
  }

  get ratio(): number {
    const wanted = this.base + LOSS_GAIN * (this.held ?? Math.max(this.last, this.average));
    return Math.min(this.max, Math.max(this.min, wanted));
  }
}
