import { z } from 'zod';
import { event, method } from './define';
import { STREAM_CODECS, TRANSPORT_NAMES, TRANSPORTS } from '../transports';

/** What a paired party may do. `input` is off by default. */
export const PeerScope = z.enum(['view', 'input']);
export type PeerScope = z.infer<typeof PeerScope>;

export const Fingerprint = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 fingerprint: 64 lowercase hex digits');

/** One paired party, as stored on either side (the host's peers, the peer's hosts). */
export const PeerRecord = z.object({
  fingerprint: Fingerprint,
  name: z.string().min(1).max(128),
  /** HOST:PORT to dial (host side only). */
  addr: z.string().max(300).nullable(),
  scopes: z.array(PeerScope),
  pairedAt: z.string(),
  lastSeen: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type PeerRecord = z.infer<typeof PeerRecord>;

export const PeerStatus = PeerRecord.extend({
  online: z.boolean(),
  rttMs: z.number().nullable(),
  clockOffsetMs: z.number().nullable(),
});
export type PeerStatus = z.infer<typeof PeerStatus>;

// ---- control channel messages (newline-delimited JSON over mutual TLS 1.3) ----

export const MAX_CONTROL_LINE_BYTES = 64 * 1024;

export const InputEvent = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mouse.move'), x: z.number().int().min(0).max(65535), y: z.number().int().min(0).max(65535) }).strict(),
  z.object({ kind: z.literal('mouse.button'), button: z.enum(['left', 'middle', 'right']), down: z.boolean() }).strict(),
  z.object({ kind: z.literal('mouse.wheel'), dx: z.number().int().min(-100).max(100), dy: z.number().int().min(-100).max(100) }).strict(),
  z.object({ kind: z.literal('key'), key: z.string().min(1).max(32), down: z.boolean() }).strict(),
  z.object({ kind: z.literal('text'), text: z.string().min(1).max(1000) }).strict(),
]);
export type InputEvent = z.infer<typeof InputEvent>;

// ---- streams (host → peer video over RTP or SRT; the control channel carries the set-up, keys and stamps) ----

export const StreamId = z.string().regex(/^[0-9a-f-]{36}$/, 'a stream id (UUID)');
export const StreamCodec = z.enum(STREAM_CODECS);
/** What each one carries and reports: TRANSPORTS in src/shared/transports.ts. */
export const StreamTransport = z.enum(TRANSPORT_NAMES);
export type StreamTransport = z.infer<typeof StreamTransport>;

/** A 44-byte AES-256-GCM master (key + salt), base64: one per direction, fresh per session. */
const RtpMaster = z.string().regex(/^[A-Za-z0-9+/]{59}=$/, 'a 44-byte key, base64');
const SrtPassphrase = z.string().regex(/^[A-Za-z0-9]{32}$/, 'a 32-character SRT passphrase');

/** What every stream.open says, whatever the transport. */
const StreamOpenCommon = {
  type: z.literal('stream.open'),
  streamId: StreamId,
  latencyMs: z.number().min(0).max(5000),
  width: z.number().int().min(256).max(7680),
  height: z.number().int().min(144).max(4320),
  fps: z.number().int().min(1).max(240),
};

/**
 * One stream.open per transport (a union on `transport`): each names what its receiver needs. A
 * missing `transport` is the default's (DEFAULT_TRANSPORT, rtp), as in the API.
 */
export const RtpStreamOpen = z
  .object({
    ...StreamOpenCommon,
    transport: z.literal('rtp').optional(),
    /** host → peer media and peer → host feedback masters. */
    rtpKeys: z.object({ media: RtpMaster, feedback: RtpMaster }).strict(),
    codec: z.enum(TRANSPORTS.rtp.codecs),
    /** the host's sound comes too (Opus, RFC 7587), under keys derived from rtpKeys, to a second socket. */
    audio: z.boolean().optional(),
  })
  .strict();
export const SrtStreamOpen = z
  .object({
    ...StreamOpenCommon,
    transport: z.literal('srt'),
    passphrase: SrtPassphrase,
    codec: StreamCodec,
    /** the host's sound comes too, as Opus inside the same MPEG-TS (its PMT says on which PID). */
    audio: z.boolean().optional(),
  })
  .strict();
export const StreamOpen = z.discriminatedUnion('transport', [RtpStreamOpen, SrtStreamOpen]);
export type StreamOpen = z.infer<typeof StreamOpen>;
export type RtpStreamOpen = z.infer<typeof RtpStreamOpen>;
export type SrtStreamOpen = z.infer<typeof SrtStreamOpen>;

/** Per decoded frame: [capture stamp (host ms mod 2^32) or null when unreadable, decode time on the peer's clock]. */
export const StreamFrames = z.array(z.tuple([z.number().int().min(0).max(2 ** 32 - 1).nullable(), z.number()])).max(1000);

export const StreamRequest = z
  .object({
    type: z.literal('stream.request'),
    width: z.number().int().min(256).max(7680),
    height: z.number().int().min(144).max(4320),
    fps: z.number().int().min(1).max(240),
    bitrateKbps: z.number().int().min(100).max(500_000).optional(),
    codec: StreamCodec.optional(),
    transport: StreamTransport.optional(),
  })
  .strict();
export type StreamRequest = z.infer<typeof StreamRequest>;

/** One second of the sound at the peer: what arrived, what was rebuilt or concealed, and its timing. */
export const AudioStats = z
  .object({
    bitrateKbps: z.number().min(0).max(100_000),
    received: z.number().int().min(0).max(100_000),
    lost: z.number().int().min(0).max(100_000),
    recovered: z.number().int().min(0).max(100_000),
    recoveredFec: z.number().int().min(0).max(100_000),
    recoveredNack: z.number().int().min(0).max(100_000),
    concealedMs: z.number().min(0).max(600_000),
    /** Heard at the peer minus captured at the host, on the peer's clock minus the host's (the host removes the offset). */
    delayMs: z.number().min(-600_000).max(600_000).nullable(),
    /** The sound's delay minus the picture's (positive: the sound is late), when stamped frames show the picture's. */
    avOffsetMs: z.number().min(-600_000).max(600_000).nullable(),
    /** Frames counted and dropped (the peer has no sound output). */
    dropped: z.number().int().min(0).max(100_000),
    /** Audible gaps: the sink ran dry or the stream paused. */
    underruns: z.number().int().min(0).max(100_000),
  })
  .strict();
export type AudioStats = z.infer<typeof AudioStats>;

export const StreamMessage = z.discriminatedUnion('type', [
  StreamOpen,
  z
    .object({
      type: z.literal('stream.ready'),
      streamId: StreamId,
      port: z.number().int().min(1).max(65535),
      /** Set when the peer answered with a listener it had started ahead, under its own fresh passphrase. */
      passphrase: SrtPassphrase.optional(),
      /** Where the sound goes, when the host asked for it and the peer could open its audio receiver. */
      audioPort: z.number().int().min(1).max(65535).optional(),
    })
    .strict(),
  /**
   * Sent before stream.ready when the host asked for sound and this peer will not play it (it cannot
   * receive it, or has no output and counts it): why, in one line. A host that does not know this message
   * answers it with an error, and the stream goes on.
   */
  z.object({ type: z.literal('stream.audio'), streamId: StreamId, why: z.string().max(300) }).strict(),
  z.object({ type: z.literal('stream.close'), streamId: StreamId, reason: z.string().max(500) }).strict(),
  z.object({ type: z.literal('stream.frames'), streamId: StreamId, frames: StreamFrames }).strict(),
  z.object({ type: z.literal('stream.ended'), streamId: StreamId, reason: z.string().max(500) }).strict(),
  /**
   * The transport's counters for the last second at the peer: packets received, lost before repair,
   * dropped unrepaired (SRT and rtp); rtp adds its repairs and recoveries.
   */
  z
    .object({
      type: z.literal('stream.stats'),
      streamId: StreamId,
      received: z.number().int().min(0).max(10_000_000),
      lost: z.number().int().min(0).max(10_000_000),
      dropped: z.number().int().min(0).max(10_000_000),
      fecRecovered: z.number().int().min(0).max(10_000_000).optional(),
      nackRecovered: z.number().int().min(0).max(10_000_000).optional(),
      framesLost: z.number().int().min(0).max(100_000).optional(),
      framesSkipped: z.number().int().min(0).max(100_000).optional(),
      keyframeRequests: z.number().int().min(0).max(100_000).optional(),
      cleanPictureMs: z.number().min(0).max(600_000).nullable().optional(),
      rejected: z.number().int().min(0).max(10_000_000).optional(),
      rttMs: z.number().min(0).max(60_000).nullable().optional(),
      audio: AudioStats.optional(),
      /** rtp: how much later than the fastest the frames came this second (median, ms): a queue on the path. */
      queueDelayMs: z.number().min(-60_000).max(60_000).nullable().optional(),
      /** rtp: media, FEC and resent kbit/s that arrived this second. */
      receivedKbps: z.number().min(0).max(100_000_000).optional(),
      /** rtp: median rate a frame's packets arrived at (kbit/s): a narrow link's rate, or very high on an open one. */
      trainKbps: z.number().min(0).max(100_000_000).nullable().optional(),
    })
    .strict(),
  StreamRequest,
  z.object({ type: z.literal('stream.refused'), reason: z.string().max(500) }).strict(),
]);
export type StreamMessage = z.infer<typeof StreamMessage>;

export const ControlMessage = z.discriminatedUnion('type', [
  ...StreamMessage.options,
  z.object({ type: z.literal('pair'), token: z.string().min(16).max(128), name: z.string().min(1).max(128) }).strict(),
  z.object({ type: z.literal('paired'), name: z.string().min(1).max(128) }).strict(),
  z.object({ type: z.literal('hello'), name: z.string().min(1).max(128) }).strict(),
  z.object({ type: z.literal('welcome'), name: z.string().min(1).max(128) }).strict(),
  z
    .object({
      type: z.literal('ping'),
      id: z.number().int().nonnegative(),
      t0: z.number(),
      /** The host's next ping comes within this many ms (1 s while streaming, slower when idle): the peer's silence limit follows it. */
      next: z.number().int().min(100).max(120_000).optional(),
    })
    .strict(),
  z.object({ type: z.literal('pong'), id: z.number().int().nonnegative(), t0: z.number(), t1: z.number(), t2: z.number() }).strict(),
  z.object({ type: z.literal('input'), event: InputEvent }).strict(),
  z.object({ type: z.literal('revoked') }).strict(),
  z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(1000) }).strict(),
]);
export type ControlMessage = z.infer<typeof ControlMessage>;

// ---- API methods (the Peers page) ----

const PeerRef = z.object({ peer: z.string().min(1).max(128).describe('name or fingerprint') }).strict();

export const peersMethods = {
  'peers.list': method({ description: 'Paired peers with online state, RTT and scopes.', params: z.object({}).strict().optional(), result: z.array(PeerStatus) }),
  'peers.pair': method({
    description: 'Pair with a peer from its gpubridge://pair URI.',
    params: z.object({ uri: z.string().min(1).max(2000) }).strict(),
    result: PeerRecord,
  }),
  'peers.setScopes': method({
    description: 'Grant or withdraw scopes (view, input) of a paired peer.',
    params: PeerRef.extend({ scopes: z.array(PeerScope) }).strict(),
    result: PeerRecord,
  }),
  'peers.revoke': method({ description: 'Revoke a paired peer: it can no longer connect.', params: PeerRef, result: PeerRecord }),
};

export const peersEvents = {
  'peers.changed': event({ description: 'A peer was paired, changed, revoked, came online or went offline.', payload: z.array(PeerStatus) }),
};
