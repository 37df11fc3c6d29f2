// bench/latency `browser` case: where a frame's time goes, stage by stage, from the stamp drawn on the X
// display to the frame shown in Chromium. The host side records when each frame's packets were handed to
// werift and when werift had sent the last one (SRTP and the socket); the page records each shown frame's
// requestVideoFrameCallback metadata (receiveTime: the frame's last packet received; presentationTime:
// the decoded frame handed to the compositor; expectedDisplayTime: the vsync it is shown at). Frames are
// matched by their RTP timestamp; the page's times are moved onto the host's clock with the data channel's
// offset estimate.
import { preciseNow } from '../src/core/pairing/channel';
import { quantile } from '../src/core/sessions/quantiles';
import { stampAgeMs } from '../src/shared/stamp-code';
import type { WebRtcMediaSender } from '../src/core/webrtc/webrtc-media-sender';

/** One shown frame's times in the page (ms on the page's clock; the stamp as read from the picture). */
export interface FrameTimes {
  stamp: number | null;
  /** Whether the page read this frame's stamp (false: the bench's alternate half seconds). */
  reading: boolean;
  rtp: number | null;
  received: number | null;
  /** rVFC processingDuration (ms): Chromium's time from the frame's packets to its decoded picture. */
  processingMs: number | null;
  presented: number;
  callback: number;
  shown: number;
}

interface SendTimes {
  firstHanded: number;
  lastHanded: number | null;
  lastSent: number | null;
}

/** Wraps one viewer's media sender so each frame's hand-over and send times are kept, by RTP timestamp. */
export function recordSends(media: WebRtcMediaSender): Map<number, SendTimes> {
  const sends = new Map<number, SendTimes>();
  const inner = (media as unknown as { sender: { sendRtp: (packet: { header: { timestamp: number; marker: boolean } }) => Promise<void> } }).sender;
  const sendRtp = inner.sendRtp.bind(inner);
  inner.sendRtp = async (packet) => {
    // werift adds no timestamp offset unless a track is replaced: the timestamp is the one we gave it
    const timestamp = packet.header.timestamp;
    const marker = packet.header.marker;
    const now = preciseNow();
    const times = sends.get(timestamp) ?? { firstHanded: now, lastHanded: null, lastSent: null };
    if (!sends.has(timestamp)) {
      sends.set(timestamp, times);
      if (sends.size > 20_000) sends.delete(sends.keys().next().value!);
    }
    if (marker) times.lastHanded = now;
    await sendRtp(packet);
    if (marker) times.lastSent = preciseNow();
  };
  return sends;
}

const median = (values: number[]): number | null => quantile([...values].sort((a, b) => a - b), 0.5);
const fmt = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)}`);

export interface StageSplit {
  /** Frames with a readable stamp and all their times matched. */
  matched: number;
  /** p50 of the stamp's age when the frame was decoded (presentationTime) and when shown (expectedDisplayTime), ms. */
  decodedP50Ms: number | null;
  shownP50Ms: number | null;
  /** With the native peer on the same session: the frames both saw, each one's age at the peer's decode and in the browser. */
  sameFrames: { count: number; nativeP50Ms: number | null; decodedP50Ms: number | null; shownP50Ms: number | null; decodedGapP50Ms: number | null; shownGapP50Ms: number | null } | null;
  /** The browser's own stages (received → presented, presented → shown), p50 ms over frames whose stamp was read and those whose was not. */
  reading: { framesRead: number; framesNotRead: number; toPresentedRead: number | null; toPresentedNotRead: number | null; toShownRead: number | null; toShownNotRead: number | null };
  line: string;
}

/** The per-stage medians (each stage's own p50, so they need not add up exactly to the totals' p50). */
export function splitStages(frames: FrameTimes[], sends: Map<number, SendTimes>, offsetMs: number, nativeAges: Map<number, number> | null = null): StageSplit {
  const same = { native: [] as number[], decoded: [] as number[], shown: [] as number[], decodedGap: [] as number[], shownGap: [] as number[] };
  for (const frame of frames) {
    const native = frame.stamp === null ? undefined : nativeAges?.get(frame.stamp);
    if (native === undefined) continue;
    const age = (pageMs: number) => stampAgeMs(frame.stamp!, pageMs - offsetMs) + (pageMs - Math.floor(pageMs));
    same.native.push(native);
    same.decoded.push(age(frame.presented));
    same.shown.push(age(frame.shown));
    same.decodedGap.push(age(frame.presented) - native);
    same.shownGap.push(age(frame.shown) - native);
  }
  const own = (read: boolean) => {
    const picked = frames.filter((f) => f.reading === read);
    return { count: picked.length, toPresented: median(picked.flatMap((f) => (f.received === null ? [] : [f.presented - f.received]))), toShown: median(picked.map((f) => f.shown - f.presented)) };
  };
  const [read, notRead] = [own(true), own(false)];
  const reading = { framesRead: read.count, framesNotRead: notRead.count, toPresentedRead: read.toPresented, toPresentedNotRead: notRead.toPresented, toShownRead: read.toShown, toShownNotRead: notRead.toShown };
  const sameFrames = nativeAges === null ? null : { count: same.native.length, nativeP50Ms: median(same.native), decodedP50Ms: median(same.decoded), shownP50Ms: median(same.shown), decodedGapP50Ms: median(same.decodedGap), shownGapP50Ms: median(same.shownGap) };
  const ages = { handed: [] as number[], packetized: [] as number[], sent: [] as number[], received: [] as number[], decoded: [] as number[], presented: [] as number[], shown: [] as number[] };
  const stages = { encode: [] as number[], handOver: [] as number[], werift: [] as number[], wire: [] as number[], toDecoded: [] as number[], toPresented: [] as number[], toShown: [] as number[] };
  let matched = 0;
  for (const frame of frames) {
    if (frame.stamp === null || frame.rtp === null || frame.received === null) continue;
    const send = sends.get(frame.rtp);
    if (!send || send.lastHanded === null || send.lastSent === null) continue;
    matched += 1;
    const age = (hostMs: number) => stampAgeMs(frame.stamp!, hostMs) + (hostMs - Math.floor(hostMs));
    const page = (pageMs: number) => age(pageMs - offsetMs);
    const a = { handed: age(send.firstHanded), packetized: age(send.lastHanded), sent: age(send.lastSent), received: page(frame.received), decoded: frame.processingMs === null ? null : page(frame.received) + frame.processingMs, presented: page(frame.presented), shown: page(frame.shown) };
    ages.handed.push(a.handed);
    ages.packetized.push(a.packetized);
    ages.sent.push(a.sent);
    ages.received.push(a.received);
    if (a.decoded !== null) ages.decoded.push(a.decoded);
    ages.presented.push(a.presented);
    ages.shown.push(a.shown);
    stages.encode.push(a.handed);
    stages.handOver.push(a.packetized - a.handed);
    stages.werift.push(a.sent - a.packetized);
    stages.wire.push(a.received - a.sent);
    if (frame.processingMs !== null) stages.toDecoded.push(frame.processingMs);
    stages.toPresented.push(a.presented - a.received);
    stages.toShown.push(a.shown - a.presented);
  }
  const decodedP50Ms = median(ages.presented);
  const shownP50Ms = median(ages.shown);
  const line = `stages (p50 ms, ${matched} frames matched by RTP timestamp): stamp → first packet to werift ${fmt(median(stages.encode))} (capture, encode, our fan-out)`
    + `; → last packet to werift ${fmt(median(stages.handOver))}; werift's send of the last packet (SRTP, socket) ${fmt(median(stages.werift))}`
    + `; → Chromium received it ${fmt(median(stages.wire))}; received → presented for composition ${fmt(median(stages.toPresented))} (rVFC processingDuration ${fmt(median(stages.toDecoded))})`
    + `; presented → expected display ${fmt(median(stages.toShown))}`
    + `. Ages p50: sent ${fmt(median(ages.sent))}, received ${fmt(median(ages.received))}, decoded ${fmt(median(ages.decoded))} (receiveTime + processingDuration), presented ${fmt(decodedP50Ms)}, shown ${fmt(shownP50Ms)}`;
  return { matched, decodedP50Ms, shownP50Ms, sameFrames, reading, line };
}
