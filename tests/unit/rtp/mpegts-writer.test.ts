import { describe, expect, it } from 'vitest';
import { PMT_PID, TS_PACKET_BYTES, TsWriter, VIDEO_PID } from '../../../src/core/rtp/mpegts-writer';

interface Parsed {
  pid: number;
  unitStart: boolean;
  counter: number;
  payload: Buffer;
}

/** TS packets as a demuxer reads them: sync byte, PID, counter, the payload after any adaptation field. */
function parse(ts: Buffer): Parsed[] {
  expect(ts.length % TS_PACKET_BYTES).toBe(0);
  const packets: Parsed[] = [];
  for (let at = 0; at < ts.length; at += TS_PACKET_BYTES) {
    expect(ts[at]).toBe(0x47);
    const hasField = (ts[at + 3]! & 0x20) !== 0;
    const start = at + 4 + (hasField ? ts[at + 4]! + 1 : 0);
    expect(start).toBeLessThanOrEqual(at + TS_PACKET_BYTES);
    packets.push({ pid: ((ts[at + 1]! & 0x1f) << 8) | ts[at + 2]!, unitStart: (ts[at + 1]! & 0x40) !== 0, counter: ts[at + 3]! & 0x0f, payload: ts.subarray(start, at + TS_PACKET_BYTES) });
  }
  return packets;
}

describe('MPEG-TS out: one PES per access unit', () => {
  it('carries each access unit whole, with continuous counters, tables before keyframes, and a padding PES after an unbounded one', () => {
    const writer = new TsWriter('h264');
    const counters = new Map<number, number>();
    const sizes = [1, 162, 163, 184, 4000, 65_521, 65_522, 300_000, 17];
    sizes.forEach((size, index) => {
      const unit = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + index) & 0xff));
      // at an odd offset in its buffer, as a view of a bigger one
      const view = Buffer.concat([Buffer.alloc(3), unit]).subarray(3);
      const keyframe = index === 0 || index === 5;
      const packets = parse(writer.write(view, index * 16.7, keyframe));
      for (const packet of packets) {
        const last = counters.get(packet.pid);
        if (last !== undefined) expect(packet.counter).toBe((last + 1) & 0x0f);
        counters.set(packet.pid, packet.counter);
      }
      expect(packets.some((p) => p.pid === PMT_PID)).toBe(keyframe);
      const video = packets.filter((p) => p.pid === VIDEO_PID);
      const starts = video.filter((p) => p.unitStart);
      const bounded = size + 8 <= 0xffff;
      expect(starts).toHaveLength(bounded ? 1 : 2);
      const pesEnd = bounded ? video.length : video.length - 1;
      const pes = Buffer.concat(video.slice(0, pesEnd).map((p) => p.payload));
      expect(pes.subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0xe0]));
      expect(pes.readUInt16BE(4)).toBe(bounded ? size + 8 : 0);
      expect(pes.subarray(14)).toEqual(unit);
      if (!bounded) expect(video.at(-1)!.payload.subarray(0, 6)).toEqual(Buffer.from([0, 0, 1, 0xbe, 0, 4]));
    });
  });
});
