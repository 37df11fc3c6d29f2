import { describe, expect, it } from 'vitest';
import { chooseEncoder } from '../../../src/core/sessions/encoder-choice';
import { srtLatencyFromRtt } from '../../../src/core/srt/srt-url';
import { newPassphrase, PASSPHRASE_PATTERN } from '../../../src/core/srt/srt-url';
import type { EncoderName } from '../../../src/core/sessions/encoder-args';

const all = new Set<EncoderName>(['h264_nvenc', 'hevc_nvenc', 'libx264', 'libx265']);
const ada = { vendor: 'nvidia', encoders: { h264: true, hevc: true, av1: true }, nvencSessions: 0, nvencLimit: 8 };

describe('encoder choice', () => {
  it('uses NVENC where the GPU and ffmpeg have it, with a software fallback', () => {
    expect(chooseEncoder('h264', ada, all)).toEqual({ encoder: 'h264_nvenc', fallback: 'libx264', reason: 'h264_nvenc (NVENC)' });
    expect(chooseEncoder('hevc', ada, all).encoder).toBe('hevc_nvenc');
  });

  it('falls back to software and says why', () => {
    expect(chooseEncoder('h264', null, all)).toMatchObject({ encoder: 'libx264', reason: expect.stringContaining('no NVIDIA GPU') });
    // H100/H200/A100: no NVENC
    expect(chooseEncoder('h264', { vendor: 'nvidia', encoders: { h264: false, hevc: false, av1: false } }, all).reason).toContain('no NVENC for h264');
    expect(chooseEncoder('h264', { ...ada, nvencSessions: 8 }, all).reason).toContain('all 8 NVENC sessions of this GPU are in use (8 open, counting other programs)');
    expect(chooseEncoder('h264', ada, new Set(['libx264'])).reason).toContain('this ffmpeg has no h264_nvenc');
  });

  it('refuses clearly when there is no encoder at all for the codec', () => {
    expect(() => chooseEncoder('av1', null, all)).toThrow(/no encoder for av1/);
    expect(() => chooseEncoder('h264', null, new Set())).toThrow(/no software h264 encoder/);
  });
});

describe('SRT settings', () => {
  it('sets SRT latency from the measured RTT instead of a fixed 120 ms', () => {
    expect(srtLatencyFromRtt(0.05)).toBe(0);
    expect(srtLatencyFromRtt(2)).toBe(9);
    expect(srtLatencyFromRtt(80)).toBe(321);
    expect(srtLatencyFromRtt(null)).toBe(40);
    expect(srtLatencyFromRtt(10_000)).toBe(1000);
  });

  it('makes a fresh 32-character passphrase per session', () => {
    const seen = new Set(Array.from({ length: 200 }, () => newPassphrase()));
    expect(seen.size).toBe(200);
    for (const p of seen) expect(p).toMatch(PASSPHRASE_PATTERN);
  });
});
