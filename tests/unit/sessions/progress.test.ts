import { describe, expect, it } from 'vitest';
import { ProgressParser, type EncoderProgress } from '../../../src/core/sessions/progress';

// A block as ffmpeg 5.1 writes with -progress pipe:1 (captured from this project's sender)
const BLOCK = `frame=118
fps=59.87
stream_0_0_q=23.0
bitrate=4481.3kbits/s
total_size=1102284
out_time_us=1966667
out_time_ms=1966667
out_time=00:00:01.966667
dup_frames=0
drop_frames=2
speed=0.998x
progress=continue
`;

describe('ffmpeg -progress parser', () => {
  it('parses a block into fps, bitrate, dropped/duplicated frames and speed', () => {
    const seen: EncoderProgress[] = [];
    const parser = new ProgressParser((p) => seen.push(p));
    parser.push(BLOCK.slice(0, 40));
    expect(seen).toHaveLength(0);
    parser.push(BLOCK.slice(40));
    expect(seen).toEqual([{ frame: 118, fps: 59.87, bitrateKbps: 4481.3, totalBytes: 1102284, dropped: 2, duplicated: 0, speed: 0.998, end: false }]);
  });

  it('reads N/A as null and marks the last block', () => {
    const seen: EncoderProgress[] = [];
    const parser = new ProgressParser((p) => seen.push(p));
    parser.push('frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nspeed=N/A\nprogress=end\n');
    expect(seen[0]).toMatchObject({ frame: 0, bitrateKbps: null, totalBytes: 0, speed: null, end: true });
  });

  it('ignores garbage and does not grow without bound on a line with no newline', () => {
    const seen: EncoderProgress[] = [];
    const parser = new ProgressParser((p) => seen.push(p));
    parser.push('x'.repeat(200_000));
    parser.push('\n=oops\nnot a pair\nframe=3\nprogress=continue\n');
    expect(seen).toEqual([expect.objectContaining({ frame: 3 })]);
  });
});
