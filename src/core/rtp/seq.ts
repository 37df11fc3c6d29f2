/**
 * Extends 16-bit RTP sequence numbers to a running count: each new number is placed nearest to the
 * highest one seen so far (RFC 3550 A.1), so wraps and reordering inside ±32 767 both come out right.
 */
export class SeqExtender {
  private highest: number | null = null;

  extend(seq: number): number {
    if (this.highest === null) {
      this.highest = seq + 65536;
      return this.highest;
    }
    const delta = ((seq - (this.highest & 0xffff) + 32768) & 0xffff) - 32768;
    const ext = this.highest + delta;
    if (ext > this.highest) this.highest = ext;
    return ext;
  }

  /** Places a number as `extend` would, without moving the highest. */
  peek(seq: number): number | null {
    if (this.highest === null) return null;
    return this.highest + (((seq - (this.highest & 0xffff) + 32768) & 0xffff) - 32768);
  }

  get max(): number | null {
    return this.highest;
  }
}
