/**
 * The sender's native data plane (native/rtp/sender.c) end to end on loopback, with real UDP sockets: an
 * encoder's RTP (a socket standing in for ffmpeg, sending from the port the fan-out accepts) →
 * NativeRtpOutput → its viewer's SRTP, FEC and pacer → a recording forwarder → the receiver (the
 * JavaScript one, the reference, and the native one), feedback back the same way. Every wait polls with a
 * bound; nothing asserts a timing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { AssembledFrame } from '../../../src/core/rtp/frame-assembler';
import { NativeRtpReceiver } from '../../../src/core/rtp/native-receiver';
import { nativeRtp, type NativeRtp } from '../../../src/core/rtp/native-rtp-lib';
import { NativeRtpOutput, type NativeRtpPeerSender } from '../../../src/core/rtp/native-sender';
import { FEC_PAYLOAD_TYPE, MEDIA_PAYLOAD_TYPE, newRtpKeys } from '../../../src/core/rtp/rtp-keys';
import { isRtcp, parseRtpHeader, writeRtpHeader } from '../../../src/core/rtp/rtp-packet';
import { RtpReceiver } from '../../../src/core/rtp/rtp-receiver';
import { seededRandom } from '../../../src/core/util/seeded-random';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { Forwarder } from '../../helpers/rtp-forwarder';
import { until as waitUntil } from '../../helpers/until';

const HOST = '127.0.0.1';
const START_CODE = Buffer.from([0, 0, 0, 1]);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls every 10 ms: the link's events come within a few. */
const until = (what: string, probe: () => boolean, timeoutMs = 5000): Promise<true> => waitUntil(what, () => probe(), timeoutMs, 10);

const built = nativeRtpLibrary('the native rtp sender') !== null;
const cleanups: (() => void)[] = [];

afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function library(): NativeRtp {
  const lib = nativeRtp();
  if (typeof lib === 'string') throw new Error(lib);
  return lib;
}

interface TestFrame {
  payloads: Buffer[];
  keyframe: boolean;
  annexB: Buffer;
}

interface NativeLink {
  output: NativeRtpOutput;
  sender: NativeRtpPeerSender;
  receiver: RtpReceiver | NativeRtpReceiver;
  forwarder: Forwarder;
  delivered: AssembledFrame[];
  keyframeEvents: number;
  /** Sends a frame as the encoder would: its payloads in RTP, the marker on the last. */
  send(frame: TestFrame): Promise<void>;
  random: () => number;
}

async function openLink(kind: 'javascript' | 'native', seed: number): Promise<NativeLink> {
  const lib = library();
  const keys = newRtpKeys();
  const options = { listen: HOST, port: 0, keys, codec: 'h264' } as const;
  const receiver = kind === 'native' ? new NativeRtpReceiver(lib, options) : new RtpReceiver(options);
  cleanups.push(() => receiver.close());
  const receiverPort = await receiver.start();
  if (receiver instanceof NativeRtpReceiver) receiver.attach(null);
  const forwarder = new Forwarder(receiverPort, HOST);
  cleanups.push(() => forwarder.close());
  await forwarder.start();
  const output = new NativeRtpOutput(lib);
  cleanups.push(() => output.close());
  // paced, as a session's viewer is: 8 Mbit/s at 60 fps
  const sender = output.peerSender({ host: HOST, port: forwarder.port }, keys, MEDIA_PAYLOAD_TYPE.h264, { targetKbps: 8000, fps: 60 });
  await sender.start();
  output.addViewer('cloudbox', sender);
  const source = await output.openSource();
  const encoder: Socket = createSocket('udp4');
  cleanups.push(() => encoder.close());
  await new Promise<void>((resolve) => encoder.bind(source.fromPort, HOST, () => resolve()));
  let seq = 1000;
  const link: NativeLink = {
    output, sender, receiver, forwarder, delivered: [], keyframeEvents: 0, random: seededRandom(seed),
    send: async (frame) => {
      for (let i = 0; i < frame.payloads.length; i += 1) {
        const header = writeRtpHeader({ marker: i === frame.payloads.length - 1, payloadType: MEDIA_PAYLOAD_TYPE.h264, seq: seq++ & 0xffff, timestamp: 0, ssrc: 7 });
        await new Promise<void>((resolve) => encoder.send(Buffer.concat([header, frame.payloads[i]!]), source.port, HOST, () => resolve()));
      }
    },
  };
  receiver.on('frame', (frame: AssembledFrame) => link.delivered.push(frame));
  sender.on('keyframe', () => (link.keyframeEvents += 1));
  await until('the first sender report through the forwarder', () => forwarder.sender !== null && forwarder.toReceiver.length > 0);
  return link;
}

function makeFrame(random: () => number, keyframe: boolean): TestFrame {
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const payloads: Buffer[] = [];
  const count = int(5, 8);
  for (let i = 0; i < count; i += 1) {
    const payload = Buffer.alloc(int(1, 1100));
    for (let b = 0; b < payload.length; b += 1) payload[b] = int(0, 255);
    payload[0] = keyframe ? 0x65 : 0x41;
    payloads.push(payload);
  }
  return { payloads, keyframe, annexB: Buffer.concat(payloads.flatMap((payload) => [START_CODE, payload])) };
}

async function stream(link: NativeLink, count: number): Promise<TestFrame[]> {
  const frames: TestFrame[] = [];
  for (let index = 0; index < count; index += 1) {
    const frame = makeFrame(link.random, index === 0);
    await link.send(frame);
    frames.push(frame);
    await sleep(3);
  }
  return frames;
}

function expectDelivered(delivered: readonly AssembledFrame[], frames: readonly TestFrame[]): void {
  expect(delivered.length).toBe(frames.length);
  expect(delivered.map((f) => f.keyframe)).toEqual(frames.map((f) => f.keyframe));
  delivered.forEach((f, i) => expect(f.data.equals(frames[i]!.annexB), `frame ${i} bytes`).toBe(true));
}

describe.each([
  { kind: 'javascript' as const },
  { kind: 'native' as const },
])('the native rtp sender on loopback, to the $kind receiver', ({ kind }) => {
  it.runIf(built)('delivers every frame in order with the exact Annex B bytes, one rising timestamp per frame, and FEC with each', async () => {
    const link = await openLink(kind, 1);
    const frames = await stream(link, 60);
    await until('60 frames', () => link.delivered.length >= 60);
    await sleep(150); // nothing more may come
    expectDelivered(link.delivered, frames);
    const stamps = link.delivered.map((f) => f.timestamp);
    stamps.slice(1).forEach((stamp, i) => expect(((stamp - stamps[i]!) | 0) > 0, `frame ${i + 1} timestamp`).toBe(true));
    const counters = link.sender.counters;
    expect(counters.packetsSent).toBe(frames.reduce((n, f) => n + f.payloads.length, 0));
    expect(counters.fecPacketsSent).toBeGreaterThanOrEqual(frames.length);
    expect(counters.retransmitted).toBe(0);
  });

  it.runIf(built)('repairs loss on the way: FEC rebuilds what it covers, a resend brings back what it does not', async () => {
    const link = await openLink(kind, 2);
    const seen = new Set<number>();
    let media = 0;
    let fecDropped = 0;
    // every 9th media packet's first copy; and, for every 3rd frame's FEC, all of it (its loss then needs a
    // resend). Not the first frame's: without its FEC nothing tells the receiver where the stream's first frame began
    const frameOf = new Map<number, number>();
    link.forwarder.drop = (packet) => {
      if (isRtcp(packet)) return false;
      const header = parseRtpHeader(packet)!;
      if (!frameOf.has(header.timestamp)) frameOf.set(header.timestamp, frameOf.size);
      if (header.payloadType === FEC_PAYLOAD_TYPE) {
        const drop = frameOf.get(header.timestamp)! % 3 === 1;
        if (drop) fecDropped += 1;
        return drop;
      }
      if (seen.has(header.seq)) return false;
      seen.add(header.seq);
      media += 1;
      return media % 9 === 0;
    };
    const frames = await stream(link, 90);
    await until('90 frames', () => link.delivered.length >= 90, 10_000);
    expectDelivered(link.delivered, frames);
    const repaired = link.receiver.counters;
    expect(fecDropped).toBeGreaterThan(0);
    expect(repaired.fecRecovered).toBeGreaterThan(0);
    expect(repaired.nackRecovered).toBeGreaterThan(0);
    expect(link.sender.counters.nacksReceived).toBeGreaterThan(0);
    expect(link.sender.counters.retransmitted).toBeGreaterThanOrEqual(repaired.nackRecovered);
    expect(repaired.framesLost).toBe(0);
  });
});

describe('the native rtp sender under hostile traffic', () => {
  it.runIf(built)('a frame lost whole (every copy) brings the receiver\'s keyframe request to the host as a keyframe event', async () => {
    const link = await openLink('javascript', 3);
    let lostTimestamp: number | null = null;
    const stamps: number[] = [];
    link.forwarder.drop = (packet) => {
      if (isRtcp(packet)) return false;
      const header = parseRtpHeader(packet)!;
      if (!stamps.includes(header.timestamp)) stamps.push(header.timestamp);
      if (stamps.indexOf(header.timestamp) === 10) lostTimestamp = header.timestamp;
      return header.timestamp === lostTimestamp;
    };
    await stream(link, 30);
    await until('a keyframe event at the host', () => link.keyframeEvents > 0);
    expect(link.receiver.counters.framesLost).toBeGreaterThan(0);
  });

  it.runIf(built)('an RTCP flood at the host\'s socket is cut to 200 a second before this process sees it, and the stream goes on', async () => {
    const link = await openLink('javascript', 4);
    const flood = 5000;
    const began = Date.now();
    const random = seededRandom(44);
    for (let i = 0; i < flood; i += 1) {
      const datagram = Buffer.alloc(20 + Math.floor(random() * 100));
      for (let b = 0; b < datagram.length; b += 1) datagram[b] = Math.floor(random() * 256);
      datagram[1] = 200 + (i % 8); // RTCP-shaped
      link.forwarder.injectToSender(datagram);
      if (i % 100 === 99) await sleep(1);
    }
    const seconds = (Date.now() - began) / 1000;
    const frames = await stream(link, 30);
    await until('30 frames after the flood', () => link.delivered.length >= 30);
    expectDelivered(link.delivered, frames);
    // its bucket: 200 at once, then 200 a second (and a second's grace for this test's own slowness)
    const checked = link.sender.counters.feedbackRejected;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(200 + 200 * (seconds + 1));
    expect(link.keyframeEvents).toBe(0);
  });

  it.runIf(built)('a viewer in JavaScript (a browser\'s) gets the same payloads, frame by frame, as the native one delivers', async () => {
    const link = await openLink('javascript', 5);
    const payloads: { payload: Buffer; marker: boolean; frameStart: boolean; timestamp: number }[] = [];
    link.output.addViewer('browser', {
      packet: (payload, marker, frameStart, timestamp) => payloads.push({ payload, marker, frameStart, timestamp }),
      close: () => undefined,
      rttMs: null,
    });
    const frames = await stream(link, 20);
    await until('20 frames at both', () => link.delivered.length >= 20 && payloads.filter((p) => p.marker).length >= 20);
    expectDelivered(link.delivered, frames);
    const annexB = frames.map((_, i) => {
      const start = payloads.filter((p) => p.frameStart)[i]!;
      const frame = payloads.filter((p) => p.timestamp === start.timestamp);
      return { timestamp: start.timestamp, data: Buffer.concat(frame.flatMap((p) => [START_CODE, p.payload])) };
    });
    expect(annexB.map((f) => f.timestamp)).toEqual(link.delivered.map((f) => f.timestamp));
    annexB.forEach((f, i) => expect(f.data.equals(frames[i]!.annexB), `frame ${i} at the browser's viewer`).toBe(true));
  });

  it.runIf(built)('a viewer still held after its fan-out closed refuses quietly: nothing reaches the freed data plane', async () => {
    const link = await openLink('javascript', 6);
    await stream(link, 5);
    link.output.close();
    expect(() => {
      link.sender.setPacingTarget({ targetKbps: 2000, fps: 30 });
      link.sender.fec.hold(0.05);
      link.sender.heard(Buffer.alloc(40, 0x80));
      expect(link.sender.counters.packetsSent).toBeGreaterThanOrEqual(0);
      link.sender.close();
    }).not.toThrow();
  });
});
