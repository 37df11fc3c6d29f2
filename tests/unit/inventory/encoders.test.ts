import { describe, expect, it } from 'vitest';
import { encoderSessionLimit, encodersForArch, nvidiaArchFromDeviceId, nvidiaArchFromName, parseFfmpegNvencEncoders } from '../../../src/core/inventory/encoders';

describe('NVIDIA encoder table', () => {
  it.each([
    ['20b2', 'Ampere-GA100', { h264: false, hevc: false, av1: false }], // A100-SXM4-80GB
    ['20b5', 'Ampere-GA100', { h264: false, hevc: false, av1: false }], // A100 80GB PCIe
    ['2330', 'Hopper', { h264: false, hevc: false, av1: false }], // H100 SXM5
    ['2335', 'Hopper', { h264: false, hevc: false, av1: false }], // H200
    ['2216', 'Ampere', { h264: true, hevc: true, av1: false }], // RTX 3080
    ['1eb8', 'Turing', { h264: true, hevc: true, av1: false }], // T4
    ['1bb3', 'Pascal', { h264: true, hevc: true, av1: false }], // P4
    ['1401', 'Maxwell', { h264: true, hevc: true, av1: false }], // GTX 960
    ['26b9', 'Ada Lovelace', { h264: true, hevc: true, av1: true }], // L40S
    ['2684', 'Ada Lovelace', { h264: true, hevc: true, av1: true }], // RTX 4090
    ['2b85', 'Blackwell', { h264: true, hevc: true, av1: true }], // RTX 5090
  ] as const)('device %s → %s', (id, arch, enc) => {
    expect(nvidiaArchFromDeviceId(id)).toBe(arch);
    expect(encodersForArch(nvidiaArchFromDeviceId(id))).toEqual(enc);
  });
  it('unknown chips are null, not a guess', () => {
    expect(nvidiaArchFromDeviceId('0001')).toBeNull();
    expect(encodersForArch(null)).toEqual({ h264: null, hevc: null, av1: null });
  });
  it('names tell GA100/GH100 from other Ampere/Hopper, and old GeForce generations', () => {
    expect(nvidiaArchFromName('Ampere', 'NVIDIA A100-SXM4-80GB')).toBe('Ampere-GA100');
    expect(nvidiaArchFromName(null, 'NVIDIA H100 80GB HBM3')).toBe('Hopper');
    expect(nvidiaArchFromName(null, 'GeForce GTX 1070 Ti')).toBe('Pascal');
    expect(nvidiaArchFromName('Ada Lovelace', 'NVIDIA L40S')).toBe('Ada Lovelace');
  });
  it('session limits: GeForce by driver, professional unlimited, no encoder null', () => {
    const enc = { h264: true, hevc: true, av1: false };
    expect(encoderSessionLimit(enc, 'GeForce', 'NVIDIA GeForce RTX 3080', '595.58.03')).toBe(8);
    expect(encoderSessionLimit(enc, 'GeForce', 'x', '535.54.03')).toBe(5);
    expect(encoderSessionLimit(enc, null, 'GeForce GTX 1070 Ti', '470.10')).toBe(3);
    expect(encoderSessionLimit(enc, 'NVIDIA', 'Tesla T4', '515.105.01')).toBe('unlimited');
    expect(encoderSessionLimit({ h264: false, hevc: false, av1: false }, 'NVIDIA', 'A100', null)).toBeNull();
  });
  it('reads the ffmpeg encoders list', () => {
    const text = ' V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)\n V....D libx264              libx264 H.264\n';
    expect(parseFfmpegNvencEncoders(text)).toEqual({ h264: true, hevc: true, av1: false });
  });
});
