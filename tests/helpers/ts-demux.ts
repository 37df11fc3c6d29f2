/**
 * Reads back the MPEG-TS that TsWriter (src/core/rtp/mpegts-writer.ts) writes: one PES per access unit
 * on the video PID, bounded by its length or, past 64 KiB, ended by the padding-stream PES after it.
 * For tests and the transport bench, which check that each frame came out as it went in.
 */
const TS_PACKET = 188;
const VIDEO_PID = 0x100;
const PADDING_STREAM_ID = 0xbe;

export class TsDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private pes: { parts: Buffer[]; bytes: number; length: number | null } | null = null;

  /** The access units completed by this chunk, in order. */
  push(chunk: Buffer): Buffer[] {
    const units: Buffer[] = [];
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    for (; at + TS_PACKET <= data.length; at += TS_PACKET) {
      const packet = data.subarray(at, at + TS_PACKET);
      if ((((packet[1]! & 0x1f) << 8) | packet[2]!) !== VIDEO_PID) continue;
      const payloadAt = packet[3]! & 0x20 ? 5 + packet[4]! : 4;
      if (!(packet[3]! & 0x10) || payloadAt >= TS_PACKET) continue;
      let payload = packet.subarray(payloadAt);
      if (packet[1]! & 0x40) {
        this.finish(units);
        if (payload[3] === PADDING_STREAM_ID) continue;
        const pesLength = payload.readUInt16BE(4);
        const headerBytes = 9 + payload[8]!;
        this.pes = { parts: [], bytes: 0, length: pesLength === 0 ? null : pesLength - 3 - payload[8]! };
        payload = payload.subarray(headerBytes);
      }
      const pes = this.pes;
      if (!pes) continue;
      const take = pes.length === null ? payload : payload.subarray(0, pes.length - pes.bytes);
      pes.parts.push(Buffer.from(take));
      pes.bytes += take.length;
      if (pes.length !== null && pes.bytes >= pes.length) this.finish(units);
    }
    this.pending = data.subarray(at);
    return units;
  }

  private finish(units: Buffer[]): void {
    if (this.pes) units.push(Buffer.concat(this.pes.parts));
    this.pes = null;
  }
}
