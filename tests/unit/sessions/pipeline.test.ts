import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { encoderArgs } from '../../../src/core/sessions/encoder-args';
import { buildReceiverArgs, buildSenderArgs, type SenderSpec } from '../../../src/core/sessions/pipeline';

const PASS = 'Abcdefghijklmnopqrstuvwxyz012345';
const base: SenderSpec = {
  source: { kind: 'x11', display: ':0', x: 0, y: 0, width: 1280, height: 720 },
  fps: 60,
  bitrateKbps: 6000,
  encoder: 'libx264',
  outputs: [{ host: '10.0.0.2', port: 9000, passphrase: PASS, latencyMs: 4 }],
};

function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

function ffmpegEncoderHelp(encoder: string): string {
  return execFileSync('ffmpeg', ['-hide_banner', '-h', `encoder=${encoder}`], { encoding: 'utf8' });
}

describe('sender argv', () => {
  it('captures the X display with wall-clock timestamps and keeps them (the stamp is drawn from them)', () => {
    const args = buildSenderArgs(base);
    expect(args.slice(args.indexOf('-use_wallclock_as_timestamps'), args.indexOf('-i') + 2)).toEqual(['-use_wallclock_as_timestamps', '1', '-f', 'x11grab', '-draw_mouse', '1', '-framerate', '60', '-video_size', '1280x720', '-i', ':0+0,0']);
    expect(args).toContain('-copyts');
    expect(after(args, '-fps_mode')).toBe('passthrough');
    expect(after(args, '-vf')).toMatch(/^format=yuv420p,pad=iw:ceil\(ih\/16\)\*16\+32/);
  });

  it('x264: zerolatency, CBR with a one-frame VBV, no B-frames, sliced threads, intra refresh', () => {
    const args = buildSenderArgs(base);
    expect(after(args, '-tune')).toBe('zerolatency');
    expect(after(args, '-preset')).toBe('ultrafast');
    expect(after(args, '-b:v')).toBe('6000k');
    expect(after(args, '-maxrate')).toBe('6000k');
    expect(after(args, '-bufsize')).toBe('100k');
    expect(after(args, '-bf')).toBe('0');
    expect(after(args, '-x264-params')).toMatch(/sliced-threads=1.*intra-refresh=1.*nal-hrd=cbr.*repeat-headers=1/);
  });

  it('MPEG-TS with the PES length set and no mux delay, to an AES-256 SRT caller URL', () => {
    const args = buildSenderArgs(base);
    expect(after(args, '-omit_video_pes_length')).toBe('0');
    expect(after(args, '-flush_packets')).toBe('1');
    const url = args.at(-1)!;
    expect(url).toBe(`srt://10.0.0.2:9000?mode=caller&latency=4000&passphrase=${PASS}&pbkeylen=32&enforced_encryption=1&transtype=live&payload_size=1316&connect_timeout=3000`);
  });

  it('rtp: ffmpeg\'s own RTP packetizer to our loopback port, 1200-byte packets, no key anywhere on the command line', () => {
    const { outputs: _outputs, ...rest } = base;
    const args = buildSenderArgs({ ...rest, rtpPort: 40_000, rtpFromPort: 40_001 });
    // from a port our socket is connected to: no other local process can slip packets into the stream
    expect(args.slice(-5)).toEqual(['-f', 'rtp', '-payload_type', '96', 'udp://127.0.0.1:40000?pkt_size=1200&localport=40001']);
    expect(args.join(' ')).not.toMatch(/passphrase|key|srt:/);
    expect(buildSenderArgs({ ...rest, encoder: 'libx265', rtpPort: 40_000 })).toContain('98');
    expect(() => buildSenderArgs({ ...rest, encoder: 'av1_nvenc', rtpPort: 40_000 })).toThrow(/choose transport srt for AV1/);
    expect(() => buildSenderArgs({ ...rest, rtpPort: 0 })).toThrow(/bad RTP port/);
    // a frame over 200 KiB would be cut by the peer's demuxer
    expect(() => buildSenderArgs({ ...rest, bitrateKbps: 200_000, fps: 60, rtpPort: 40_000 })).toThrow(/lower the bitrate or use srt/);
  });

  it('fans out to several viewers through one encoder (tee muxer)', () => {
    const args = buildSenderArgs({ ...base, outputs: [...base.outputs!, { host: '::1', port: 9001, passphrase: PASS, latencyMs: 0 }] });
    expect(args.filter((a) => a === '-c:v')).toHaveLength(1);
    expect(after(args, '-f')).not.toBe('tee');
    const tee = args.at(-1)!;
    expect(args.at(-2)).toBe('tee');
    expect(tee.split('|')).toHaveLength(2);
    // the tee parser unescapes with av_get_token: brackets of an IPv6 address are escaped
    expect(tee).toContain('[f=mpegts:omit_video_pes_length=0:max_delay=0:flush_packets=1:onfail=ignore]srt://\\[::1\\]:9001?');
  });

  it('NVENC: p1, ultra-low-latency tuning, CBR, one-frame VBV, no B-frames, endless GOP, zerolatency, delay 0, chosen GPU', () => {
    const args = encoderArgs({ encoder: 'h264_nvenc', fps: 60, bitrateKbps: 12000, gpuIndex: 1 });
    expect(args).toEqual(expect.arrayContaining(['-c:v', 'h264_nvenc', '-gpu', '1', '-preset', 'p1', '-tune', 'ull', '-rc', 'cbr', '-bufsize', '200k', '-bf', '0', '-zerolatency', '1', '-delay', '0']));
  });

  it.each(['h264_nvenc', 'hevc_nvenc'] as const)('every %s option we pass exists in this ffmpeg build (ffmpeg -h encoder=…)', (encoder) => {
    const help = ffmpegEncoderHelp(encoder);
    if (/is not recognized/.test(help)) {
      console.warn(`SKIP: this ffmpeg has no ${encoder}`);
      return;
    }
    const generic = new Set(['-c:v', '-b:v', '-maxrate', '-bufsize', '-bf', '-g']);
    const args = encoderArgs({ encoder, fps: 30, bitrateKbps: 5000 });
    for (let i = 0; i < args.length; i += 2) {
      const flag = args[i]!;
      if (generic.has(flag)) continue;
      expect(help, `${encoder} has ${flag}`).toMatch(new RegExp(`^\\s+${flag.replace(/[-]/g, '\\-')}\\s`, 'm'));
    }
    // the named presets and tunings exist too
    expect(help).toMatch(/^\s+p1\s/m);
    expect(help).toMatch(/^\s+ull\s/m);
    expect(help).toMatch(/^\s+cbr\s/m);
  });

  it('refuses hostile or broken input instead of building an argv', () => {
    const bad: Array<[string, Partial<SenderSpec>]> = [
      ['display with shell metacharacters', { source: { kind: 'x11', display: ':0;rm -rf /', x: 0, y: 0, width: 1280, height: 720 } }],
      ['odd size', { source: { kind: 'x11', display: ':0', x: 0, y: 0, width: 1281, height: 720 } }],
      ['tiny size', { source: { kind: 'test', width: 64, height: 64 } }],
      ['negative offset', { source: { kind: 'x11', display: ':0', x: -1, y: 0, width: 1280, height: 720 } }],
      ['a DRM path outside /dev/dri', { source: { kind: 'kms', device: '/etc/passwd', width: 1280, height: 720 } }],
      ['fps 0', { fps: 0 }],
      ['bitrate NaN', { bitrateKbps: Number.NaN }],
      ['host name instead of an IP', { outputs: [{ host: 'evil.example&mode=listener', port: 9000, passphrase: PASS, latencyMs: 0 }] }],
      ['passphrase with URL syntax', { outputs: [{ host: '10.0.0.2', port: 9000, passphrase: 'a&passphrase=b&xxxxxxxxxxxxxxxxxxxxxx', latencyMs: 0 }] }],
      ['port 0', { outputs: [{ host: '10.0.0.2', port: 0, passphrase: PASS, latencyMs: 0 }] }],
      ['no outputs', { outputs: [] }],
    ];
    for (const [what, change] of bad) expect(() => buildSenderArgs({ ...base, ...change } as SenderSpec), what).toThrow();
  });
});

describe('receiver argv', () => {
  it('listens, skips probing and parser delays, decodes single-threaded and writes stamp strips flushed per frame', () => {
    const args = buildReceiverArgs({ listen: { host: '0.0.0.0', port: 9000, passphrase: PASS, latencyMs: 0 }, display: false });
    expect(after(args, '-fflags')).toBe('noparse+nofillin');
    expect(after(args, '-probesize')).toBe('32');
    expect(after(args, '-analyzeduration')).toBe('1');
    expect(after(args, '-i')).toMatch(/^srt:\/\/0\.0\.0\.0:9000\?mode=listener&latency=0&passphrase=/);
    expect(after(args, '-vf')).toBe('crop=256:32:0:ih-32,format=gray');
    expect(args.slice(-6)).toEqual(['passthrough', '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1']);
  });

  it('with a display, also shows the picture without the strip in a window', () => {
    const args = buildReceiverArgs({ listen: { host: '127.0.0.1', port: 9000, passphrase: PASS, latencyMs: 0 }, display: true, title: 'GPU Bridge — host"; rm' });
    expect(after(args, '-filter_complex')).toContain('crop=iw:ih-32:0:0');
    expect(args).toContain('sdl2');
    expect(args.at(-1)).toBe('GPU Bridge  host rm');
  });
});
