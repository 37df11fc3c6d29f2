// bench/latency: the naive pipeline, what one gets from ffmpeg's defaults. The same capture and the same
// stamp strip as ours (the strip needs the wall-clock timestamps and -copyts), then `-c:v libx264
// -pix_fmt yuv420p` and nothing else (preset medium, B-frames, lookahead, frame threads), the default
// MPEG-TS muxer, SRT with the same encryption but its default latency (120 ms), and a receiver with
// ffmpeg's default probing, buffering and threads. Only logging and -progress are added (they cost no
// latency): the receiver writes the strip as gray rawvideo to stdout, read the same way as ours.
import { stampCropFilter, stampFilters } from '../src/core/sessions/stamp';

export interface NaiveSpec {
  display: string;
  width: number;
  height: number;
  fps: number;
  port: number;
  passphrase: string;
}

function srtQuery(spec: NaiveSpec, mode: 'caller' | 'listener'): string {
  return `srt://127.0.0.1:${spec.port}?mode=${mode}&passphrase=${spec.passphrase}&pbkeylen=32`;
}

export function naiveSenderArgs(spec: NaiveSpec): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '1',
    '-use_wallclock_as_timestamps', '1', '-f', 'x11grab', '-framerate', String(spec.fps), '-video_size', `${spec.width}x${spec.height}`, '-i', `${spec.display}+0,0`,
    '-copyts', '-vf', stampFilters().join(','),
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
    '-f', 'mpegts', srtQuery(spec, 'caller'),
  ];
}

export function naiveReceiverArgs(spec: NaiveSpec): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats', '-i', srtQuery(spec, 'listener'), '-vf', stampCropFilter(), '-f', 'rawvideo', 'pipe:1'];
}
