// bench/transport: the pre-encoded 3840x2160@60 H.264 streams (one per bitrate, made once with ffmpeg and
// kept under .cache/transport/), cut into access units and packetized as RFC 6184 (single NAL unit and
// FU-A, at the encoder's packet size), plus each frame as the receiver must hand it on (Annex B with
// 4-byte start codes), to check that what came out is what went in.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { RTP_PACKET_BYTES } from '../src/core/sessions/pipeline';
import { RTP_HEADER_BYTES } from '../src/core/rtp/rtp-packet';

export const WIDTH = 3840;
export const HEIGHT = 2160;
export const FPS = 60;
/** Seconds of content per stream (two keyframe intervals), looped by the feeder. */
const CONTENT_SECONDS = 4;
const GOP_FRAMES = 2 * FPS;
const MAX_PAYLOAD = RTP_PACKET_BYTES - RTP_HEADER_BYTES;
const START_CODE = Buffer.from([0, 0, 0, 1]);
/** libx264 ultrafast with zerolatency lands near 80% of the bitrate asked over this noise; asked this much more, near it. */
const RATE_CONTROL_UNDERSHOOT = 1.25;

export interface BenchPacket {
  payload: Buffer;
  marker: boolean;
}

export interface BenchFrame {
  packets: BenchPacket[];
  /** Annex B with 4-byte start codes: what the receiver must hand on. */
  expected: Buffer;
  keyframe: boolean;
}

/** The cached stream at this bitrate, made with ffmpeg (libx264 ultrafast) the first time. */
export function streamFile(repo: string, mbps: number): string {
  const dir = join(repo, '.cache', 'transport');
  const file = join(dir, `${WIDTH}x${HEIGHT}p${FPS}-${mbps}M-${CONTENT_SECONDS}s-v2.h264`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  console.log(`making ${file} (once: ${CONTENT_SECONDS} s of ${WIDTH}x${HEIGHT}@${FPS} at ${mbps} Mbit/s, libx264 ultrafast)`);
  const partial = `${file}.partial`;
  const rate = `${Math.round(mbps * RATE_CONTROL_UNDERSHOOT * 1000)}k`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    // temporal noise over a moving pattern: every frame costs its share of the bitrate, as a desktop in motion would
    '-f', 'lavfi', '-i', `testsrc2=size=${WIDTH}x${HEIGHT}:rate=${FPS},noise=alls=12:allf=t+u`,
    '-t', String(CONTENT_SECONDS),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-b:v', rate, '-maxrate', rate, '-bufsize', `${Math.round((mbps * RATE_CONTROL_UNDERSHOOT * 1000) / 20)}k`,
    '-g', String(GOP_FRAMES), '-keyint_min', String(GOP_FRAMES), '-sc_threshold', '0',
    '-f', 'h264', partial,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`ffmpeg could not make the bench stream (${result.error?.message ?? `exit ${result.status}`}): it needs libx264`);
  renameSync(partial, file);
  return file;
}

/** NAL units of an Annex B byte stream (start codes of 3 or 4 bytes removed). */
function nalUnits(data: Buffer): Buffer[] {
  const starts: { at: number; codeBytes: number }[] = [];
  for (let i = 0; i + 2 < data.length; i += 1) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      const four = i > 0 && data[i - 1] === 0;
      starts.push({ at: i + 3, codeBytes: four ? 4 : 3 });
      i += 2;
    }
  }
  return starts.map((start, index) => {
    const next = starts[index + 1];
    return data.subarray(start.at, next ? next.at - next.codeBytes : data.length);
  });
}

/** Access units: a new one starts at an AUD, SPS, PPS or SEI after a slice, or at a slice whose first_mb_in_slice is 0. */
function accessUnits(nals: Buffer[]): Buffer[][] {
  const units: Buffer[][] = [];
  let current: Buffer[] = [];
  let hasSlice = false;
  for (const nal of nals) {
    const type = nal[0]! & 0x1f;
    const slice = type === 1 || type === 5;
    // ue(v) first_mb_in_slice is 0 exactly when its first bit is 1
    const startsPicture = slice ? (nal[1]! & 0x80) !== 0 : type === 9 || type === 7 || type === 8 || type === 6;
    if (hasSlice && startsPicture) {
      units.push(current);
      current = [];
      hasSlice = false;
    }
    current.push(nal);
    if (slice) hasSlice = true;
  }
  if (current.length > 0) units.push(current);
  return units;
}

/** RFC 6184 non-interleaved: a NAL unit alone when it fits, else FU-A fragments. */
function packetize(unit: Buffer[]): BenchPacket[] {
  const packets: BenchPacket[] = [];
  for (const nal of unit) {
    if (nal.length <= MAX_PAYLOAD) {
      packets.push({ payload: nal, marker: false });
      continue;
    }
    const indicator = (nal[0]! & 0xe0) | 28;
    const type = nal[0]! & 0x1f;
    const chunk = MAX_PAYLOAD - 2;
    for (let offset = 1; offset < nal.length; offset += chunk) {
      const end = Math.min(nal.length, offset + chunk);
      const header = (offset === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      packets.push({ payload: Buffer.concat([Buffer.from([indicator, header]), nal.subarray(offset, end)]), marker: false });
    }
  }
  packets[packets.length - 1]!.marker = true;
  return packets;
}

export function loadFrames(file: string): BenchFrame[] {
  return accessUnits(nalUnits(readFileSync(file))).map((unit) => ({
    packets: packetize(unit),
    expected: Buffer.concat(unit.flatMap((nal) => [START_CODE, nal])),
    keyframe: unit.some((nal) => (nal[0]! & 0x1f) === 5),
  }));
}
