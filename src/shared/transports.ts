/**
 * What each stream transport carries and reports: the one table the session manager's checks, the CLI,
 * the self-test, the peer and the renderer read. Pure data (the renderer imports it). A new transport
 * is one entry here plus its room in src/core/<name>/ (see docs/ARCHITECTURE.md, "Adding a transport").
 */

export const STREAM_CODECS = ['h264', 'hevc', 'av1'] as const;
export type StreamCodecName = (typeof STREAM_CODECS)[number];

/** The transports, in the order a user is offered them (the default first). */
export const TRANSPORT_NAMES = ['rtp', 'srt'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** The API's, the CLI's and the peer's default: a stream.open without `transport` is an rtp one. */
export const DEFAULT_TRANSPORT: TransportName = 'rtp';

/** Per-second figures of a viewer's link beyond its RTT (StreamSecond's keys); a transport reports some of them. */
export const LINK_FIGURES = ['packetsLost', 'fecRecovered', 'nackRecovered', 'framesLost', 'keyframeRequests', 'cleanPictureMs', 'queueDelayMs'] as const;
export type LinkFigure = (typeof LINK_FIGURES)[number];

export interface TransportCapabilities {
  /** Its name and what it is for, where a user picks one. */
  choice: string;
  /** One line for people: what protects the stream. */
  summary: string;
  codecs: readonly StreamCodecName[];
  /** Why the codecs outside `codecs` are not carried (ends the refusal). */
  codecsWhy: string;
  /** Which per-second link figures its viewers report (charts, Prometheus, the self-test's repairs line). */
  figures: readonly LinkFigure[];
  /** Sender and receiver are our own code in our processes: the self-test reports their CPU. */
  ownDataPlane: boolean;
  /**
   * Its receiver reports each second the frames' queueing delay, the rate that got through and the packet
   * trains' rate (stream.stats): an adaptive bitrate follows the link's capacity (down for a filling queue,
   * not for random loss its repair covers). Without them it steps on loss and latency.
   */
  capacityFigures: boolean;
  /**
   * Largest encoded frame, kbit (the encoder's VBV is one frame: bitrate / fps), or null for no limit.
   * rtp: each frame reaches the peer's decoder as one MPEG-TS PES, and ffmpeg's demuxer cuts a PES over 200 KiB.
   */
  maxFrameKbit: number | null;
  /** It carries the host's sound with the picture (src/core/audio); where not, `audioWhy` says why (one line). */
  audio: boolean;
  audioWhy: string;
  /**
   * Its viewers may carry the encoder's RTP payloads themselves (ViewerLink.rtpSink) instead of our
   * receiver: a browser over WebRTC (src/core/webrtc/) watches sessions of this transport.
   */
  sinkViewers: boolean;
}

export const TRANSPORTS = {
  rtp: {
    choice: 'RTP (interactive, lowest latency)',
    summary: 'RTP over UDP, AES-256-GCM, FEC + NACK, keyframe on loss',
    codecs: ['h264', 'hevc'],
    codecsWhy: 'this ffmpeg has no AV1 RTP packetizer',
    figures: LINK_FIGURES,
    ownDataPlane: true,
    capacityFigures: true,
    maxFrameKbit: 1600,
    audio: true,
    audioWhy: '',
    sinkViewers: true,
  },
  srt: {
    choice: 'SRT (complete, buffered)',
    summary: 'SRT, AES-256, retransmission buffer',
    codecs: STREAM_CODECS,
    codecsWhy: '',
    figures: [],
    ownDataPlane: false,
    capacityFigures: false,
    maxFrameKbit: null,
    audio: true,
    audioWhy: '',
    sinkViewers: false,
  },
} as const satisfies Record<TransportName, TransportCapabilities>;

const CODEC_LABEL: Record<StreamCodecName, string> = { h264: 'H.264', hevc: 'HEVC', av1: 'AV1' };

/** One transport's entry, widened (for lookups by a name known only at run time). */
export function capabilities(transport: TransportName): TransportCapabilities {
  return TRANSPORTS[transport];
}

export function isTransportName(text: unknown): text is TransportName {
  return typeof text === 'string' && (TRANSPORT_NAMES as readonly string[]).includes(text);
}

/** Why `transport` cannot carry `codec` (a sentence naming the transports that can), or null when it can. */
export function codecRefusal(transport: TransportName, codec: StreamCodecName): string | null {
  const caps = capabilities(transport);
  if (caps.codecs.includes(codec)) return null;
  const others = TRANSPORT_NAMES.filter((name) => capabilities(name).codecs.includes(codec));
  const carried = caps.codecs.map((c) => CODEC_LABEL[c]).join(' and ');
  return `the ${transport} transport carries ${carried} (${caps.codecsWhy}): choose transport ${others.join(' or ') || '(none here)'} for ${CODEC_LABEL[codec]}`;
}

/** Why a frame of `bitrateKbps / fps` is too large for `transport`, or null when it fits. */
export function frameBudgetRefusal(transport: TransportName, bitrateKbps: number, fps: number): string | null {
  const max = capabilities(transport).maxFrameKbit;
  if (max === null || bitrateKbps / fps <= max) return null;
  const others = TRANSPORT_NAMES.filter((name) => capabilities(name).maxFrameKbit === null);
  return `over ${transport} a frame must stay under ${max} kbit (${Math.round(max / 8)} KiB): ${bitrateKbps} kbit/s at ${fps} fps is ${Math.round(bitrateKbps / fps)} kbit a frame; lower the bitrate${others.length ? ` or use ${others.join(' or ')}` : ''}`;
}

/**
 * A browser watching over WebRTC: not a transport of its own but a viewer riding a session of one
 * whose entry says `sinkViewers`, the encoder's RTP payloads put into its track as they are.
 */
export const BROWSER_VIEWER = {
  /** The first is the codec of a session a browser starts itself. */
  codecs: ['h264'] as const,
  codecsWhy: 'a browser decodes neither HEVC nor AV1 over WebRTC here',
};

/** The transport a browser's own new session uses (the first that carries browsers). */
export const BROWSER_TRANSPORT: TransportName = TRANSPORT_NAMES.find((name) => capabilities(name).sinkViewers)!;

/** Why a browser cannot watch a session of `codec` over `transport` (a sentence), or null when it can. */
export function browserRefusal(transport: TransportName, codec: StreamCodecName): string | null {
  if (!capabilities(transport).sinkViewers) {
    const carriers = TRANSPORT_NAMES.filter((name) => capabilities(name).sinkViewers);
    return `a browser watches sessions over ${carriers.join(' or ')}, not ${transport}`;
  }
  if (!(BROWSER_VIEWER.codecs as readonly StreamCodecName[]).includes(codec)) return `a browser watches ${BROWSER_VIEWER.codecs.map((c) => CODEC_LABEL[c]).join(' or ')} sessions (${BROWSER_VIEWER.codecsWhy}), not ${CODEC_LABEL[codec]}`;
  return null;
}
