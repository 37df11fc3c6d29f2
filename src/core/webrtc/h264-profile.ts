/**
 * H.264 profiles as WebRTC negotiates them (RFC 6184 profile-level-id): which one a stream is, read from
 * its own SPS, and which of the payload types a browser accepted can carry it. We send the encoder's
 * payloads as they are, so the payload type must name a profile whose decoder decodes the stream.
 */
export type H264Profile = 'constrained-baseline' | 'baseline' | 'main' | 'constrained-high' | 'high';

/** What a decoder of each profile decodes: constrained baseline is the subset every profile here contains. */
const DECODES: Record<H264Profile, readonly H264Profile[]> = {
  'constrained-baseline': ['constrained-baseline'],
  baseline: ['constrained-baseline', 'baseline'],
  main: ['constrained-baseline', 'main'],
  'constrained-high': ['constrained-baseline', 'constrained-high'],
  high: ['constrained-baseline', 'main', 'constrained-high', 'high'],
};

/** The profile a profile-level-id (6 hex digits: profile_idc, constraint flags, level_idc) names; null: none of these. */
export function h264Profile(profileLevelId: string): H264Profile | null {
  if (!/^[0-9a-f]{6}$/i.test(profileLevelId)) return null;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  // constraint_set0..5 are iop's bits 7..2 (RFC 6184 table 5)
  if (idc === 0x42) return iop & 0x40 ? 'constrained-baseline' : 'baseline';
  if (idc === 0x4d) return iop & 0x80 ? 'constrained-baseline' : 'main';
  if (idc === 0x58 && (iop & 0xc0) === 0xc0) return 'constrained-baseline';
  if (idc === 0x64) return (iop & 0x0c) === 0x0c ? 'constrained-high' : 'high';
  return null;
}

const hex = (bytes: Buffer) => bytes.toString('hex');

/** The profile-level-id of the SPS in one H.264 RTP payload (a single NAL, a STAP-A or a FU-A's start); null when it has none. */
export function spsProfileLevelId(payload: Buffer): string | null {
  if (payload.length < 2) return null;
  const type = payload[0]! & 0x1f;
  if (type === 7) return payload.length >= 4 ? hex(payload.subarray(1, 4)) : null;
  if (type === 24) {
    for (let at = 1; at + 2 <= payload.length; ) {
      const size = payload.readUInt16BE(at);
      const nal = payload.subarray(at + 2, at + 2 + size);
      if (nal.length >= 4 && (nal[0]! & 0x1f) === 7) return hex(nal.subarray(1, 4));
      at += 2 + size;
    }
    return null;
  }
  // FU-A: its header's start bit and the fragmented NAL's type; the NAL's own header byte is not repeated
  if (type === 28 && payload[1]! & 0x80 && (payload[1]! & 0x1f) === 7) return payload.length >= 5 ? hex(payload.subarray(2, 5)) : null;
  return null;
}

export interface H264Codec {
  payloadType: number;
  parameters?: string;
}

/** The profile an SDP codec's fmtp names (without a profile-level-id, RFC 6184's default 42000a: baseline). */
export function codecProfile(codec: H264Codec): H264Profile | null {
  const match = /(?:^|;)\s*profile-level-id=([0-9a-fA-F]{6})/.exec(codec.parameters ?? '');
  return h264Profile(match?.[1] ?? '42000a');
}

/** The accepted codec that carries a stream of `stream`'s profile: the same profile first, else the first whose decoder decodes it. */
export function codecFor<C extends H264Codec>(accepted: readonly C[], stream: H264Profile): C | null {
  return accepted.find((codec) => codecProfile(codec) === stream) ?? accepted.find((codec) => {
    const profile = codecProfile(codec);
    return profile !== null && DECODES[profile].includes(stream);
  }) ?? null;
}

/** H.264 Table A-1: level_idc, its largest frame (macroblocks) and macroblocks a second. From 3.1, what the offer said before. */
const LEVELS: readonly (readonly [idc: number, maxFs: number, maxMbps: number])[] = [
  [31, 3600, 108_000],
  [32, 5120, 216_000],
  [40, 8192, 245_760],
  [42, 8704, 522_240],
  [50, 22_080, 589_824],
  [51, 36_864, 983_040],
  [52, 36_864, 2_073_600],
  [60, 139_264, 4_177_920],
  [61, 139_264, 8_355_840],
  [62, 139_264, 16_711_680],
];

/**
 * The least level (level_idc) whose limits hold a width×height stream at `fps` (3.1 at least; 6.2 past
 * every limit). The offer names it for what we send (level-asymmetry-allowed: the browser's own may differ).
 */
export function h264LevelFor(width: number, height: number, fps: number): number {
  const frameMbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const level = LEVELS.find(([, maxFs, maxMbps]) => frameMbs <= maxFs && frameMbs * fps <= maxMbps);
  return (level ?? LEVELS.at(-1)!)[0];
}
