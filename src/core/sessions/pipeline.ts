import { ENCODER_CODEC, encoderArgs, type EncoderSettings } from './encoder-args';
import { srtCallerUrl, srtListenerUrl, type SrtEndpoint } from '../srt/srt-url';
import { stampCropFilter, stampFilters, viewCropFilter } from './stamp';
import { codecRefusal, frameBudgetRefusal } from '../../shared/transports';

export type CaptureSource =
  /** An X display region, e.g. display ":0", offset 0,0. */
  | { kind: 'x11'; display: string; x: number; y: number; width: number; height: number }
  /** KMS scanout (needs CAP_SYS_ADMIN), downloaded to system memory for the encoder. */
  | { kind: 'kms'; device: string; width: number; height: number }
  /** ffmpeg's moving test pattern, paced in real time: the self-test's source. */
  | { kind: 'test'; width: number; height: number }
  /** Raw I420 frames on the encoder's stdin from our FrameFeed (a Wayland capture: portal, gnome, wlroots). */
  | { kind: 'frames'; capture: 'portal' | 'gnome' | 'wlroots'; width: number; height: number };

export interface SenderSpec extends EncoderSettings {
  source: CaptureSource;
  /** srt: one or more peers (several viewers of one source share this encoder through the tee muxer). */
  outputs?: SrtEndpoint[];
  /** srt with sound: the loopback port of our SrtMuxedOutput, which muxes the sound in and calls the viewers. */
  tsPort?: number;
  /** rtp: the loopback port of our RtpOutput, which encrypts and fans the packets out. */
  rtpPort?: number;
  /** rtp: the local port ffmpeg sends from (our socket takes datagrams from it alone). */
  rtpFromPort?: number;
  /** Started ahead: ffmpeg waits on fd 3 (GATE_INPUT) before it opens the capture; a few bytes there release it. */
  gated?: boolean;
}

/**
 * A tiny raw-audio input on fd 3 that ffmpeg opens first: it blocks there, loaded and linked, until fd 3
 * gets its bytes (or closes), and only then opens the capture and the encoder. A run started this way
 * ahead of need is about twice as quick to its first frame as a cold start (a keyframe on request).
 */
const GATE_INPUT = ['-f', 'u8', '-ch_layout', 'mono', '-ar', '8000', '-probesize', '32', '-analyzeduration', '1', '-i', 'pipe:3'];

/** RTP packets up to 1200 bytes: with the 16-byte tag and IP/UDP headers, under IPv6's minimum MTU of 1280. */
export const RTP_PACKET_BYTES = 1200;

const RTP_PAYLOAD_TYPE = { h264: 96, hevc: 98 } as const;

const DISPLAY_PATTERN = /^[A-Za-z0-9._-]*:\d{1,4}(\.\d{1,2})?$/;
const DEVICE_PATTERN = /^\/dev\/dri\/card\d{1,2}$/;

export function validateSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 256 || height < 144 || width > 7680 || height > 4320 || width % 2 || height % 2) {
    throw new Error(`bad picture size ${width}x${height}: even numbers from 256x144 to 7680x4320`);
  }
}

function captureArgs(source: CaptureSource, fps: number): string[] {
  validateSize(source.width, source.height);
  // the frame timestamp becomes the wall clock at capture: the stamp is drawn from it
  const wallclock = ['-use_wallclock_as_timestamps', '1'];
  switch (source.kind) {
    case 'x11':
      if (!DISPLAY_PATTERN.test(source.display)) throw new Error(`bad X display "${source.display.slice(0, 40)}"`);
      if (!Number.isInteger(source.x) || !Number.isInteger(source.y) || source.x < 0 || source.y < 0) throw new Error('bad capture offset');
      return [...wallclock, '-f', 'x11grab', '-draw_mouse', '1', '-framerate', String(fps), '-video_size', `${source.width}x${source.height}`, '-i', `${source.display}+${source.x},${source.y}`];
    case 'kms':
      if (!DEVICE_PATTERN.test(source.device)) throw new Error(`bad DRM device "${source.device.slice(0, 40)}"`);
      return [...wallclock, '-device', source.device, '-f', 'kmsgrab', '-framerate', String(fps), '-i', '-'];
    case 'test':
      // no probing: it would read (real-time paced) frames to guess the rate, about 0.3 s of start and a backlog
      return [...wallclock, '-probesize', '32', '-analyzeduration', '1', '-fpsprobesize', '0', '-f', 'lavfi', '-i', `testsrc2=size=${source.width}x${source.height}:rate=${fps},settb=1/1000000,realtime`];
    case 'frames':
      // each frame's timestamp is the moment ffmpeg reads it off the pipe, right after the feed wrote it
      return [...wallclock, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${source.width}x${source.height}`, '-framerate', String(fps), '-i', 'pipe:0'];
  }
}

export function checkFps(fps: number): void {
  if (!Number.isInteger(fps) || fps < 1 || fps > 240) throw new Error(`bad frame rate ${fps}: 1 to 240`);
}

function checkBitrate(kbps: number): void {
  if (!Number.isInteger(kbps) || kbps < 100 || kbps > 500_000) throw new Error(`bad bitrate ${kbps} kbit/s: 100 to 500000`);
}

/** MPEG-TS muxer options that keep a frame from waiting for the next one. */
const TS_OPTIONS = { omit_video_pes_length: '0', muxdelay: '0', muxpreload: '0' } as const;

function escapeTee(text: string): string {
  return text.replace(/[\\|[\]]/g, (c) => `\\${c}`);
}

/**
 * The host's ffmpeg argv: capture → yuv420p → stamp strip → low-latency encoder → MPEG-TS → SRT
 * (caller, AES-256). Progress goes to stdout as `-progress` key=value blocks once a second.
 */
export function buildSenderArgs(spec: SenderSpec): string[] {
  checkFps(spec.fps);
  checkBitrate(spec.bitrateKbps);
  const outputs = spec.outputs ?? [];
  if (spec.rtpPort === undefined && spec.tsPort === undefined && (outputs.length === 0 || outputs.length > 16)) throw new Error('a sender needs 1 to 16 outputs');
  const filters = [...(spec.source.kind === 'kms' ? ['hwdownload', 'format=bgr0'] : []), 'format=yuv420p', ...stampFilters()];
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '1',
    ...(spec.gated ? GATE_INPUT : []),
    ...captureArgs(spec.source, spec.fps),
    ...(spec.gated ? ['-map', '1:v:0'] : []),
    // keep the capture timestamps (-copyts) and every frame (passthrough); -r tells the encoder the rate
    '-copyts', '-r', String(spec.fps), '-fps_mode', 'passthrough', '-enc_time_base', '1:90000',
    '-vf', filters.join(','),
    ...encoderArgs(spec),
    '-flush_packets', '1',
  ];
  if (spec.rtpPort !== undefined) {
    const codec = ENCODER_CODEC[spec.encoder];
    const refusal = codecRefusal('rtp', codec) ?? frameBudgetRefusal('rtp', spec.bitrateKbps, spec.fps);
    if (refusal !== null || codec === 'av1') throw new Error(refusal ?? 'no AV1 over rtp');
    for (const port of [spec.rtpPort, spec.rtpFromPort ?? 1]) if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad RTP port ${port}`);
    // ffmpeg's own RFC 6184 / RFC 7798 packetizer, the marker bit on each frame's last packet
    const from = spec.rtpFromPort === undefined ? '' : `&localport=${spec.rtpFromPort}`;
    args.push('-f', 'rtp', '-payload_type', String(RTP_PAYLOAD_TYPE[codec]), `udp://127.0.0.1:${spec.rtpPort}?pkt_size=${RTP_PACKET_BYTES}${from}`);
    return args;
  }
  if (spec.tsPort !== undefined) {
    if (!Number.isInteger(spec.tsPort) || spec.tsPort < 1 || spec.tsPort > 65535) throw new Error(`bad TS port ${spec.tsPort}`);
    // datagrams of 7 TS packets (one SRT message each); each frame's last ones flushed at once
    args.push('-f', 'mpegts', ...Object.entries(TS_OPTIONS).flatMap(([k, v]) => [`-${k}`, v]), `udp://127.0.0.1:${spec.tsPort}?pkt_size=1316`);
    return args;
  }
  const urls = outputs.map((output) => srtCallerUrl(output));
  if (urls.length === 1) {
    args.push('-f', 'mpegts', ...Object.entries(TS_OPTIONS).flatMap(([k, v]) => [`-${k}`, v]), urls[0]!);
  } else {
    // the same muxer settings as AVOptions of each tee slave (the CLI's -muxdelay is the max_delay option)
    const options = 'omit_video_pes_length=0:max_delay=0:flush_packets=1';
    args.push('-map', '0:v', '-f', 'tee', urls.map((url) => `[f=mpegts:${options}:onfail=ignore]${escapeTee(url)}`).join('|'));
  }
  return args;
}

export interface ReceiverSpec {
  /** srt input only. */
  listen?: SrtEndpoint;
  /** Also show the picture (SDL window) when a display is present. */
  display: boolean;
  title?: string;
  listenTimeoutMs?: number;
  /** The picture's height without the stamp strip, for the displayed crop. */
  viewHeight?: number;
  /** 'pipe': the MPEG-TS comes on stdin (our own SRT listener feeds it) instead of ffmpeg's SRT input. */
  input?: 'srt' | 'pipe';
}

function requireListen(spec: ReceiverSpec): SrtEndpoint {
  if (!spec.listen) throw new Error('an SRT input needs the address to listen on');
  return spec.listen;
}

/**
 * The peer's ffmpeg argv: SRT listener (or MPEG-TS on stdin, fed by our own SRT or rtp receiver) → MPEG-TS → decoder (no frame threads) → the stamp strip as gray
 * rawvideo on stdout, flushed per frame; and, with a display, the picture without the strip in a window.
 * Probing is cut to the minimum so the first frame is not held back.
 */
export function buildReceiverArgs(spec: ReceiverSpec): string[] {
  const input = [
    '-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats',
    '-fflags', 'noparse+nofillin', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '1', '-fpsprobesize', '0',
    '-threads', '1', '-f', 'mpegts', '-i', spec.input === 'pipe' ? 'pipe:0' : srtListenerUrl(requireListen(spec), spec.listenTimeoutMs),
  ];
  const stampOut = ['-threads', '1', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1'];
  if (!spec.display) return [...input, '-vf', stampCropFilter(), ...stampOut];
  const title = (spec.title ?? 'GPU Bridge').replace(/[^\w .:-]/g, '').slice(0, 80) || 'GPU Bridge';
  return [
    ...input,
    '-filter_complex', `[0:v]split=2[s][v];[s]${stampCropFilter()}[stamp];[v]${viewCropFilter(spec.viewHeight)},format=yuv420p[view]`,
    '-map', '[stamp]', ...stampOut,
    '-map', '[view]', '-fps_mode', 'passthrough', '-f', 'sdl2', '-window_title', title, title,
  ];
}
