import { z } from 'zod';
import { InputEvent } from './peers';
import { method } from './define';
import { SessionSource } from './sessions';

const Sdp = z.string().min(10).max(64_000);
const ViewerId = z.string().regex(/^[0-9a-f-]{36}$/, 'a viewer id (UUID)');

/** What the browser sends the host on the 'report' data channel (validated: the browser is untrusted). */
export const ViewerReport = z.discriminatedUnion('t', [
  /** Frames shown: [capture stamp (ms mod 2^32, null: unreadable), shown at (the browser's wall clock, ms)]. */
  z.object({ t: z.literal('frames'), frames: z.array(z.tuple([z.number().int().min(0).max(2 ** 32 - 1).nullable(), z.number().finite().positive()])).max(480) }).strict(),
  /** The answer to the host's ping: the browser's wall clock when it arrived. */
  z.object({ t: z.literal('pong'), id: z.number().int().min(0).max(2 ** 31), at: z.number().finite().positive() }).strict(),
]);
export type ViewerReport = z.infer<typeof ViewerReport>;

/** What the host sends the browser on the 'report' channel. */
export type HostReport = { t: 'ping'; id: number; offsetMs: number | null } | { t: 'input'; allowed: boolean; reason: string | null } | { t: 'end'; reason: string };

/** The 'input' data channel (ordered): one InputEvent per message. */
export const ViewerInput = InputEvent;

export const WatchStart = z
  .object({
    width: z.number().int().min(256).max(7680),
    height: z.number().int().min(144).max(4320),
    fps: z.number().int().min(1).max(120),
    bitrateKbps: z.number().int().min(100).max(100_000).optional(),
    source: SessionSource.optional(),
  })
  .strict();

export const WatchOffer = z
  .object({
    viewerId: ViewerId,
    sessionId: z.string(),
    /** The host's SDP offer, its ICE candidates gathered (no trickle). */
    sdp: Sdp,
    width: z.number().int(),
    height: z.number().int(),
    fps: z.number().int(),
    /** Whether this viewer's input reaches the desktop (the owner; a view link only when it grants input). */
    input: z.boolean(),
  })
  .strict();
export type WatchOffer = z.infer<typeof WatchOffer>;

/** A view link the owner made for someone else: one-time, expiring, revocable; view only unless it grants input. */
export const ViewLink = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/),
    label: z.string().min(1).max(80),
    /** A session to watch; null: the newest live H.264 rtp session when the link is used. */
    sessionId: z.string().nullable(),
    input: z.boolean(),
    createdAt: z.string(),
    expiresAt: z.string(),
    /** When it was used (it works once), and from where. */
    usedAt: z.string().nullable(),
    usedFrom: z.string().max(100).nullable(),
    revokedAt: z.string().nullable(),
  })
  .strict();
export type ViewLink = z.infer<typeof ViewLink>;

export const webrtcMethods = {
  'viewlinks.list': method({ description: 'View links made for others (Peers page), used, expired and revoked ones too.', params: z.object({}).strict().optional(), result: z.array(ViewLink) }),
  'viewlinks.create': method({
    description: 'Make a one-time view link for someone else: it expires, can be revoked, and grants input only when asked.',
    params: z
      .object({
        label: z.string().trim().min(1).max(80),
        minutes: z.number().int().min(1).max(7 * 24 * 60),
        input: z.boolean().default(false),
        sessionId: z.string().min(1).max(64).optional(),
      })
      .strict(),
    /** `path`: append to the web shell's origin; it carries the secret, shown once. */
    result: z.object({ link: ViewLink, path: z.string() }).strict(),
  }),
  'viewlinks.revoke': method({ description: 'Revoke a view link (a browser watching through it is cut off).', params: z.object({ id: z.string().regex(/^[0-9a-f]{16}$/) }).strict(), result: ViewLink }),

  'webrtc.watch': method({
    description: 'Watch a session in this browser over WebRTC: join one by id, or start one with this browser as its first viewer. Answers the host\'s SDP offer.',
    params: z.object({ sessionId: z.string().min(1).max(64).optional(), start: WatchStart.optional(), thumbnail: z.boolean().optional() }).strict(),
    result: WatchOffer,
  }),
  'webrtc.answer': method({
    description: 'The browser\'s SDP answer to a webrtc.watch offer.',
    params: z.object({ viewerId: ViewerId, sdp: Sdp }).strict(),
    result: z.object({}).strict(),
  }),
  'webrtc.leave': method({
    description: 'Stop watching (the browser closes its peer connection).',
    params: z.object({ viewerId: ViewerId }).strict(),
    result: z.object({}).strict(),
  }),
} as const;

export const webrtcEvents = {} as const;
