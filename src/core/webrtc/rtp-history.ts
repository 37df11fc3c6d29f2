/** Packets of RTP_PACKET_BYTES (1200) the history must hold to cover this long at the target rate. */
export function historyPackets(bitrateKbps: number, coverMs = 1000, packetBytes = 1200): number {
  const needed = Math.ceil(((bitrateKbps * 1000) / 8 / packetBytes) * (coverMs / 1000));
  // a power of two, never under 1024 (a keyframe burst at a low rate is still more than the average)
  let size = 1024;
  while (size < needed * 2) size *= 2;
  return size;
}

/**
 * Sent packets by sequence number, in a ring of a power of two: what a NACK is answered from. A slot
 * holds the packet whose sequence number it was last written with; a request for an older one finds
 * another sequence number there and is refused.
 */
export class RtpHistory<T> {
  private readonly slots: ({ seq: number; packet: T } | undefined)[];
  private readonly mask: number;
  private latest: number | null = null;

  constructor(readonly size: number) {
    if (size < 1 || (size & (size - 1)) !== 0) throw new Error(`history size ${size} is not a power of two`);
    this.slots = new Array(size);
    this.mask = size - 1;
  }

  put(seq: number, packet: T): void {
    this.slots[seq & this.mask] = { seq, packet };
    this.latest = seq;
  }

  get(seq: number): T | undefined {
    const slot = this.slots[seq & this.mask];
    return slot && slot.seq === seq ? slot.packet : undefined;
  }

  /** Packets sent after this one (sequence numbers wrap at 2^16); null before the first. */
  age(seq: number): number | null {
    return this.latest === null ? null : (this.latest - seq + 0x10000) & 0xffff;
  }
}
