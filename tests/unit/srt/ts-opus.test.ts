// Our Opus packets inside ffmpeg's own MPEG-TS (a real libx264 stream), read back by ffmpeg (ffprobe sees
// the Opus stream on the picture's clock; ffmpeg decodes it) and by our demuxer (the same packets, the
// picture's bytes as they were). Real ffmpeg and libopus; no sound server needed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, OpusEncoder, opusUnavailable } from '../../../src/core/audio/opus-lib';
import { OPUS_PID, TsOpusDemuxer, TsOpusMuxer } from '../../../src/core/srt/ts-opus';

const unavailable = opusUnavailable();
if (unavailable) console.warn(`SKIP ts-opus: ${unavailable}`);

/** One second of 440 Hz stereo as 10 ms s16le frames. */
function tone(frames: number): Buffer[] {
  return Array.from({ length: frames }, (_, f) => {
    const pcm = Buffer.alloc(FRAME_BYTES);
    for (let i = 0; i < FRAME_BYTES / 4; i += 1) {
      const v = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * 480 + i)) / 48_000));
      pcm.writeInt16LE(v, i * 4);
      pcm.writeInt16LE(v, i * 4 + 2);
    }
    return pcm;
  });
}

describe.skipIf(unavailable !== null)('Opus in the srt stream\'s MPEG-TS', () => {
  it('goes into ffmpeg\'s TS beside the picture, on its clock, and comes back out whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gb-ts-opus-'));
    const startMs = 1_700_000_000_000.5;
    // the encoder's TS as the srt transport has ffmpeg write it: wall-clock stamps kept (-copyts)
    const video = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', '1', '-output_ts_offset', String(startMs / 1000), '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', 'pipe:1'], { maxBuffer: 64 << 20 });
    const muxer = new TsOpusMuxer();
    const encoder = new OpusEncoder();
    const sent = tone(100).map((pcm) => encoder.encode(pcm));
    encoder.close();
    // the picture's datagrams (7 TS packets) with a sound packet between each
    const chunks: Buffer[] = [];
    expect(muxer.declared).toBe(false);
    let frame = 0;
    for (let at = 0; at < video.length; at += 1316) {
      chunks.push(muxer.tables(Buffer.from(video.subarray(at, at + 1316))));
      if (frame < sent.length) {
        chunks.push(muxer.packet(sent[frame]!, startMs + frame * 10));
        frame += 1;
      }
    }
    expect(muxer.declared).toBe(true);
    for (; frame < sent.length; frame += 1) chunks.push(muxer.packet(sent[frame]!, startMs + frame * 10));
    const file = join(dir, 'av.ts');
    writeFileSync(file, Buffer.concat(chunks));

    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as { streams: { codec_name: string; id: string; start_time: string }[] };
    const opus = probe.streams.find((s) => s.codec_name === 'opus');
    expect(opus?.id).toBe(`0x${OPUS_PID.toString(16)}`);
    const pictureStart = Number(probe.streams.find((s) => s.codec_name === 'h264')!.start_time);
    // the same clock: both start at the wall-clock time they were stamped with (mod 2^33 ticks)
    expect(Math.abs(Number(opus!.start_time) - pictureStart)).toBeLessThan(0.1);
    const pcm = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:a', '-f', 's16le', '-ac', '1', 'pipe:1'], { maxBuffer: 64 << 20 });
    // a second of sound came out (the decoder's pre-skip and last frame aside)
    expect(pcm.length / 2 / 48_000).toBeGreaterThan(0.9);

    const demuxer = new TsOpusDemuxer();
    const got: { payload: Buffer; pts: number }[] = [];
    const picture: Buffer[] = [];
    let videoPts = 0;
    for (const chunk of chunks) {
      const out = demuxer.push(chunk);
      got.push(...out.sound);
      picture.push(out.video);
      videoPts += out.videoPts.length;
      expect(out.gaps).toBe(0);
    }
    expect(got.map((g) => g.payload.toString('hex'))).toEqual(sent.map((s) => s.toString('hex')));
    expect(got.map((g) => g.pts)).toEqual(sent.map((_, i) => Math.round((startMs + i * 10) * 90) % 2 ** 33));
    // byte for byte what ffmpeg wrote: the sound's packets out, its PMT entry gone again
    expect(Buffer.concat(picture).equals(video)).toBe(true);
    expect(videoPts).toBe(30);
  });

  it('keeps sound that comes before the first PMT from the decoder', () => {
    const muxer = new TsOpusMuxer();
    const demuxer = new TsOpusDemuxer();
    const out = demuxer.push(muxer.packet(Buffer.from([0xfc, 1, 2, 3]), 1_700_000_000_000));
    expect(out.video.length).toBe(0);
    expect(out.sound.map((s) => [...s.payload])).toEqual([[0xfc, 1, 2, 3]]);
  });

  it('takes garbage without throwing', () => {
    const demuxer = new TsOpusDemuxer();
    expect(demuxer.push(Buffer.alloc(500, 0x47)).sound).toEqual([]);
    expect(demuxer.push(Buffer.from('not a transport stream at all')).sound).toEqual([]);
  });
});
