import { StreamOpen } from '../../../src/shared/contract/peers';
import { BROWSER_TRANSPORT, browserRefusal, codecRefusal, DEFAULT_TRANSPORT, frameBudgetRefusal, TRANSPORT_NAMES, TRANSPORTS } from '../../../src/shared/transports';

const KEY = `${'A'.repeat(59)}=`;
const common = { type: 'stream.open', streamId: '00000000-0000-0000-0000-000000000001', latencyMs: 0, width: 640, height: 360, fps: 30 };

describe('the table of transports', () => {
  it('says once which transport carries which codec, naming the one that does', () => {
    expect(codecRefusal('rtp', 'av1')).toMatch(/rtp transport carries H\.264 and HEVC .*choose transport srt for AV1/);
    expect(codecRefusal('srt', 'av1')).toBeNull();
    for (const name of TRANSPORT_NAMES) expect(codecRefusal(name, 'h264')).toBeNull();
  });

  it('refuses frames too large for rtp only', () => {
    expect(frameBudgetRefusal('rtp', 200_000, 60)).toMatch(/lower the bitrate or use srt/);
    expect(frameBudgetRefusal('rtp', 8000, 60)).toBeNull();
    expect(frameBudgetRefusal('srt', 200_000, 60)).toBeNull();
  });

  it('defaults to rtp, which reports its repairs; srt reports none of them', () => {
    expect(DEFAULT_TRANSPORT).toBe('rtp');
    expect(TRANSPORTS.rtp.figures).toContain('fecRecovered');
    expect(TRANSPORTS.srt.figures).toEqual([]);
  });

  it('says that both transports carry the host\'s sound', () => {
    expect(TRANSPORTS.rtp.audio).toBe(true);
    expect(TRANSPORTS.srt.audio).toBe(true);
  });
});

describe('browsers in the table', () => {
  it('watch H.264 over a transport that hands its payloads to a viewer\'s own sender (rtp), and say why not otherwise', () => {
    expect(BROWSER_TRANSPORT).toBe('rtp');
    expect(browserRefusal('rtp', 'h264')).toBeNull();
    expect(browserRefusal('rtp', 'hevc')).toMatch(/a browser watches H\.264 sessions .*not HEVC/);
    expect(browserRefusal('srt', 'h264')).toMatch(/a browser watches sessions over rtp, not srt/);
  });
});

describe('stream.open, one shape per transport', () => {
  it('reads a stream.open without transport as the default (rtp), as the API does', () => {
    const parsed = StreamOpen.safeParse({ ...common, rtpKeys: { media: KEY, feedback: KEY }, codec: 'h264' });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.transport ?? DEFAULT_TRANSPORT).toBe('rtp');
  });

  it('refuses what a transport does not carry or lacks its secrets', () => {
    expect(StreamOpen.safeParse({ ...common, transport: 'rtp', codec: 'h264' }).success).toBe(false);
    expect(StreamOpen.safeParse({ ...common, transport: 'rtp', rtpKeys: { media: KEY, feedback: KEY }, codec: 'av1' }).success).toBe(false);
    expect(StreamOpen.safeParse({ ...common, transport: 'srt', codec: 'av1' }).success).toBe(false);
    expect(StreamOpen.safeParse({ ...common, transport: 'srt', passphrase: 'a'.repeat(32), codec: 'av1' }).success).toBe(true);
    // one transport's secret on another's open is refused, not ignored
    expect(StreamOpen.safeParse({ ...common, transport: 'srt', passphrase: 'a'.repeat(32), rtpKeys: { media: KEY, feedback: KEY }, codec: 'h264' }).success).toBe(false);
    expect(StreamOpen.safeParse({ ...common, transport: 'webrtc', codec: 'h264' }).success).toBe(false);
    // sound is asked for on either transport's open, as a flag
    expect(StreamOpen.safeParse({ ...common, transport: 'rtp', rtpKeys: { media: KEY, feedback: KEY }, codec: 'h264', audio: true }).success).toBe(true);
    expect(StreamOpen.safeParse({ ...common, transport: 'srt', passphrase: 'a'.repeat(32), codec: 'h264', audio: true }).success).toBe(true);
    expect(StreamOpen.safeParse({ ...common, transport: 'srt', passphrase: 'a'.repeat(32), codec: 'h264', audio: 'yes' }).success).toBe(false);
  });
});
