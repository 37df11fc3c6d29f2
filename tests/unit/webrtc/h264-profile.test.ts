import { describe, expect, it } from 'vitest';
import { codecFor, h264LevelFor, h264Profile, spsProfileLevelId } from '../../../src/core/webrtc/h264-profile';
import { WebRtcViewer } from '../../../src/core/webrtc/webrtc-viewer';

const codec = (payloadType: number, profileLevelId: string) => ({ payloadType, parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${profileLevelId}` });
/** An SPS NAL's first bytes as libx264 (-profile baseline, 720p60) writes them: 67 42 c0 20. */
const SPS_X264 = Buffer.from('6742c02091a01401', 'hex');
const SPS_MAIN = Buffer.from('674d402a95a81e00', 'hex');

describe('H.264 profiles for WebRTC (RFC 6184 profile-level-id)', () => {
  it('names the profiles browsers offer', () => {
    expect(h264Profile('42e01f')).toBe('constrained-baseline');
    expect(h264Profile('42c020')).toBe('constrained-baseline');
    expect(h264Profile('42001f')).toBe('baseline');
    expect(h264Profile('4d001f')).toBe('main');
    expect(h264Profile('4d801f')).toBe('constrained-baseline');
    expect(h264Profile('640c1f')).toBe('constrained-high');
    expect(h264Profile('64001f')).toBe('high');
    expect(h264Profile('f4001f')).toBeNull();
    expect(h264Profile('zz')).toBeNull();
  });

  it('reads the SPS from a single NAL, a STAP-A and a FU-A start; nothing from a slice', () => {
    expect(spsProfileLevelId(SPS_X264)).toBe('42c020');
    const pps = Buffer.from('68ce3c80', 'hex');
    const stapA = Buffer.concat([Buffer.from([0x18]), Buffer.from([0, pps.length]), pps, Buffer.from([0, SPS_MAIN.length]), SPS_MAIN]);
    expect(spsProfileLevelId(stapA)).toBe('4d402a');
    const fuStart = Buffer.concat([Buffer.from([0x7c, 0x80 | 7]), SPS_MAIN.subarray(1)]);
    expect(spsProfileLevelId(fuStart)).toBe('4d402a');
    expect(spsProfileLevelId(Buffer.from([0x7c, 7, 0x4d, 0x40, 0x2a]))).toBeNull(); // a FU-A's middle
    expect(spsProfileLevelId(Buffer.from('65888400', 'hex'))).toBeNull(); // an IDR slice
    expect(spsProfileLevelId(Buffer.from([0x18, 0, 50, 0x67]))).toBeNull(); // a STAP-A cut short
  });

  it('carries a stream under the accepted payload type of its own profile, else one whose decoder decodes it, else none', () => {
    const all = [codec(96, '42e01f'), codec(97, '42001f'), codec(98, '4d001f')];
    expect(codecFor(all, 'constrained-baseline')?.payloadType).toBe(96);
    expect(codecFor(all, 'main')?.payloadType).toBe(98);
    // a browser that accepted only baseline or only main still gets libx264's constrained baseline
    expect(codecFor([codec(97, '42001f')], 'constrained-baseline')?.payloadType).toBe(97);
    expect(codecFor([codec(98, '4d001f')], 'constrained-baseline')?.payloadType).toBe(98);
    // NVENC's main fits neither baseline
    expect(codecFor([codec(96, '42e01f'), codec(97, '42001f')], 'main')).toBeNull();
    // no profile-level-id: RFC 6184's default, baseline
    expect(codecFor([{ payloadType: 100, parameters: 'packetization-mode=1' }], 'constrained-baseline')?.payloadType).toBe(100);
  });
});

describe('the H.264 level a stream needs (Table A-1), as the offer names it', () => {
  it('is the least level whose frame size and macroblock rate hold the stream, 3.1 at least', () => {
    expect(h264LevelFor(640, 360, 30)).toBe(31);
    expect(h264LevelFor(1280, 720, 30)).toBe(31);
    expect(h264LevelFor(1280, 720, 60)).toBe(32);
    expect(h264LevelFor(1920, 1080, 30)).toBe(40);
    expect(h264LevelFor(1920, 1080, 60)).toBe(42);
    expect(h264LevelFor(2560, 1440, 60)).toBe(51);
    expect(h264LevelFor(3840, 2160, 30)).toBe(51);
    expect(h264LevelFor(3840, 2160, 60)).toBe(52);
    expect(h264LevelFor(3840, 2160, 120)).toBe(60);
    expect(h264LevelFor(7680, 4320, 240)).toBe(62);
  });

  it('is what a browser is offered for the stream it will watch', async () => {
    const offerFor = async (shape?: { width: number; height: number; fps: number }) => {
      const viewer = new WebRtcViewer({ name: 'level check', portRange: [51230, 51239], bitrateKbps: 4000, gatherTimeoutMs: 3000, ...(shape ? { shape } : {}) });
      try {
        return [...(await viewer.offer()).matchAll(/profile-level-id=(\w+)/g)].map((match) => match[1]);
      } finally {
        viewer.end('done');
      }
    };
    expect(await offerFor({ width: 1280, height: 720, fps: 60 })).toEqual(['42e020', '420020', '4d0020']);
    expect(await offerFor({ width: 3840, height: 2160, fps: 60 })).toEqual(['42e034', '420034', '4d0034']);
    expect(await offerFor()).toEqual(['42e01f', '42001f', '4d001f']);
  });
});
