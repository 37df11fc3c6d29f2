import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nativeRtp } from '../../../src/core/rtp/native-rtp-lib';
import { NativeRtpOutput } from '../../../src/core/rtp/native-sender';
import { RtpOutput, type RtpFanOut } from '../../../src/core/rtp/rtp-output';
import type { RtpPeerSender } from '../../../src/core/rtp/rtp-peer-sender';
import { writeRtpHeader } from '../../../src/core/rtp/rtp-packet';
import { nativeRtpLibrary } from '../../helpers/native-rtp';

interface Sent {
  payload: string;
  marker: boolean;
  frameStart: boolean;
  timestamp: number;
}

/** Records what the fan-out hands a viewer (the real one encrypts and sends it). */
function recordingViewer(): { viewer: RtpPeerSender; sent: Sent[] } {
  const sent: Sent[] = [];
  const viewer = {
    packet: (payload: Buffer, marker: boolean, frameStart: boolean, timestamp: number) => sent.push({ payload: payload.toString(), marker, frameStart, timestamp }),
    close: () => undefined,
  } as unknown as RtpPeerSender;
  return { viewer, sent };
}

const sockets: Socket[] = [];
let output: RtpFanOut | null = null;

const nativeBuilt = nativeRtpLibrary('the rtp fan-out on the native data plane') !== null;

function nativeOutput(): NativeRtpOutput {
  const lib = nativeRtp();
  if (typeof lib === 'string') throw new Error(lib);
  return new NativeRtpOutput(lib);
}

/** Both fan-outs: a viewer in JavaScript (here, a recording one; a browser's, in the product) gets the same payloads from each. */
const fanOuts: Array<[string, () => RtpFanOut, boolean]> = [
  ['in JavaScript', () => new RtpOutput(), true],
  ['on the native data plane', nativeOutput, nativeBuilt],
];

afterEach(() => {
  output?.close();
  output = null;
  for (const socket of sockets.splice(0)) socket.close();
});

async function encoderSocket(port = 0): Promise<Socket> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => resolve());
  });
  return socket;
}

function rtp(payload: string, marker: boolean, seq: number): Buffer {
  return Buffer.concat([writeRtpHeader({ marker, payloadType: 96, seq, timestamp: seq * 10, ssrc: 42 }), Buffer.from(payload)]);
}

async function send(socket: Socket, port: number, packets: Buffer[]): Promise<void> {
  for (const packet of packets) await new Promise<void>((resolve) => socket.send(packet, port, '127.0.0.1', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe.each(fanOuts)('the rtp fan-out from encoder runs to viewers, %s', (_name, open, runs) => {
  it.runIf(runs)('cuts a frame short when encoder packets were lost on the way to it, and starts clean at the next frame', async () => {
    output = open();
    const { viewer, sent } = recordingViewer();
    output.addViewer('a', viewer);
    const source = await output.openSource();
    const encoder = await encoderSocket(source.fromPort);
    // b2 (seq 4) never arrives: the rest of frame b is not sent on
    await send(encoder, source.port, [rtp('a1', false, 1), rtp('a2', true, 2), rtp('b1', false, 3), rtp('b3', true, 5), rtp('c1', false, 6), rtp('c2', true, 7)]);
    expect(sent.map((p) => [p.payload, p.marker, p.frameStart])).toEqual([
      ['a1', false, true], ['a2', true, false], ['b1', false, true], ['c1', false, true], ['c2', true, false],
    ]);
    expect(output.counters).toEqual({ sourceLost: 1, framesCut: 1 });
  });

  it.runIf(runs)('takes packets only from the port its encoder sends from, and skips the encoder\'s own RTCP', async () => {
    output = open();
    const { viewer, sent } = recordingViewer();
    output.addViewer('a', viewer);
    const source = await output.openSource();
    const intruder = await encoderSocket();
    await send(intruder, source.port, [rtp('forged', true, 1)]);
    expect(sent).toEqual([]);
    const encoder = await encoderSocket(source.fromPort);
    const senderReport = Buffer.from([0x80, 200, 0, 6, ...new Array<number>(24).fill(0)]);
    await send(encoder, source.port, [senderReport, rtp('a1', false, 1), rtp('a2', true, 2)]);
    expect(sent.map((p) => [p.payload, p.marker, p.frameStart])).toEqual([['a1', false, true], ['a2', true, false]]);
    expect(sent[0]!.timestamp).toBe(sent[1]!.timestamp);
  });

  it.runIf(runs)('makes before it breaks: a new run takes over at its first frame once the running one ends its frame', async () => {
    output = open();
    const { viewer, sent } = recordingViewer();
    output.addViewer('a', viewer);
    const switched: Array<number | null> = [];
    output.on('switched', (id: number | null) => switched.push(id));
    const first = await output.openSource();
    const old = await encoderSocket(first.fromPort);
    await send(old, first.port, [rtp('old-1a', false, 1), rtp('old-1b', true, 2), rtp('old-2a', false, 3)]);
    const second = await output.openSource();
    expect(output.switching).toBe(true);
    const next = await encoderSocket(second.fromPort);
    // the new run's keyframe comes while the old run is in the middle of a frame: it waits for its end
    await send(next, second.port, [rtp('new-1a', false, 100), rtp('new-1b', true, 101)]);
    expect(sent.map((p) => p.payload)).toEqual(['old-1a', 'old-1b', 'old-2a']);
    await send(old, first.port, [rtp('old-2b', true, 4), rtp('old-3a', false, 5)]);
    expect(sent.map((p) => p.payload)).toEqual(['old-1a', 'old-1b', 'old-2a', 'old-2b', 'new-1a', 'new-1b']);
    expect(switched).toEqual([first.id]);
    expect(output.switching).toBe(false);
    // one continuous stream: a frame start after each marker, timestamps rising across the runs
    expect(sent.filter((p) => p.frameStart).map((p) => p.payload)).toEqual(['old-1a', 'old-2a', 'new-1a']);
    const starts = sent.filter((p) => p.frameStart).map((p) => p.timestamp);
    expect(new Set(starts).size).toBe(3);
    // the old run's socket is closed: nothing more of it
    await send(old, first.port, [rtp('old-3b', true, 6)]);
    expect(sent.at(-1)!.payload).toBe('new-1b');
    // counted as they go out, and still there once it is closed
    expect(output.framesSent).toBe(3);
    output.close();
    expect(output.framesSent).toBe(3);
  });

  it.runIf(runs)('a run reserved ahead (not armed) is ignored until it is armed', async () => {
    output = open();
    const { viewer, sent } = recordingViewer();
    output.addViewer('a', viewer);
    const running = await output.openSource();
    const encoder = await encoderSocket(running.fromPort);
    await send(encoder, running.port, [rtp('running', true, 1)]);
    const reserved = await output.openSource(false);
    expect(output.switching).toBe(false);
    const early = await encoderSocket(reserved.fromPort);
    await send(early, reserved.port, [rtp('early', true, 1)]);
    expect(sent.map((p) => p.payload)).toEqual(['running']);
    output.arm(reserved.id);
    expect(output.switching).toBe(true);
    await send(early, reserved.port, [rtp('armed', true, 2)]);
    expect(sent.map((p) => p.payload)).toEqual(['running', 'armed']);
    expect(output.isActive(reserved.id)).toBe(true);
    expect(output.isActive(running.id)).toBe(false);
  });

  it.runIf(runs)('a run that has sent nothing yet has its keyframe on the way: a request then is redundant, until its first packet goes out', async () => {
    output = open();
    const { viewer, sent } = recordingViewer();
    output.addViewer('a', viewer);
    expect(output.switching).toBe(false);
    const first = await output.openSource();
    // a browser whose DTLS comes up now, before the encoder's first frame, needs no new run
    expect(output.switching).toBe(true);
    const encoder = await encoderSocket(first.fromPort);
    await send(encoder, first.port, [rtp('idr-a', false, 1), rtp('idr-b', true, 2)]);
    expect(sent.map((p) => p.payload)).toEqual(['idr-a', 'idr-b']);
    // its keyframe has gone out: a viewer that missed it asks for a new one, and gets it
    expect(output.switching).toBe(false);
  });

  it.runIf(runs)('a run that has sent nothing 3 s after it was let go may be stuck: a request goes through again', async () => {
    output = open();
    await output.openSource();
    if (output instanceof NativeRtpOutput) {
      // its clock is the data plane's own: the real 3 s
      await new Promise((resolve) => setTimeout(resolve, 3050));
      expect(output.switching).toBe(false);
      return;
    }
    expect(output.switching).toBe(true);
    const now = performance.now();
    const clock = vi.spyOn(performance, 'now').mockReturnValue(now + 3001);
    try {
      expect(output.switching).toBe(false);
    } finally {
      clock.mockRestore();
    }
  });
});
