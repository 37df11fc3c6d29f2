/**
 * The peer's rtp input on the native data plane, with a real child process as its decoder (`cat`, its
 * stdout read back as MPEG-TS): frames from RtpPeerSender over loopback reach the decoder's stdin written
 * by the data plane's thread, and when no host comes the stream ends, the decoder seeing its input end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpInput } from '../../../src/core/rtp/rtp-input';
import { MEDIA_PAYLOAD_TYPE, newRtpKeys } from '../../../src/core/rtp/rtp-keys';
import { RtpPeerSender } from '../../../src/core/rtp/rtp-peer-sender';
import { seededRandom } from '../../../src/core/util/seeded-random';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { TsDemuxer } from '../../helpers/ts-demux';

const START_CODE = Buffer.from([0, 0, 0, 1]);
const built = nativeRtpLibrary('rtp input on the native data plane') !== null;
const cleanups: (() => void)[] = [];

afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function decoderStandIn(): { child: ChildProcess; units: Buffer[]; exited: Promise<number | null> } {
  const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill());
  const units: Buffer[] = [];
  const demuxer = new TsDemuxer();
  child.stdout!.on('data', (chunk: Buffer) => units.push(...demuxer.push(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, units, exited };
}

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(!built)('rtp input on the native data plane', () => {
  it('writes each frame from the host to the decoder as MPEG-TS, byte for byte', async () => {
    const keys = newRtpKeys();
    const input = new RtpInput({ listen: '127.0.0.1', port: 0, keys, codec: 'h264' });
    cleanups.push(() => input.close());
    expect(input.dataPlane).toBe('native');
    const port = await input.open();
    const decoder = decoderStandIn();
    const stop = input.feed(decoder.child.stdin!, { stats: () => undefined, end: () => decoder.child.stdin!.end() });
    cleanups.push(stop);
    const sender = new RtpPeerSender({ host: '127.0.0.1', port }, keys, MEDIA_PAYLOAD_TYPE.h264);
    cleanups.push(() => sender.close());
    await sender.start();

    const random = seededRandom(11);
    const sent: Buffer[] = [];
    for (let index = 0; index < 40; index += 1) {
      // 1..30 single-NAL packets of 1..1100 bytes: an IDR frame first, then non-IDR ones
      const payloads = Array.from({ length: 1 + Math.floor(random() * 30) }, () => {
        const payload = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 1100) }, () => Math.floor(random() * 256)));
        payload[0] = index === 0 ? 0x65 : 0x41;
        return payload;
      });
      const timestamp = 90_000 + index * 1500;
      payloads.forEach((payload, i) => sender.packet(payload, i === payloads.length - 1, i === 0, timestamp));
      sent.push(Buffer.concat(payloads.flatMap((payload) => [START_CODE, payload])));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until('40 frames through the decoder stand-in', () => decoder.units.length >= 40);
    expect(decoder.units).toEqual(sent);
  });

  it('ends the stream when no host comes, and the decoder sees its input end', async () => {
    const input = new RtpInput({ listen: '127.0.0.1', port: 0, keys: newRtpKeys(), codec: 'h264', listenTimeoutMs: 1200 });
    cleanups.push(() => input.close());
    expect(input.dataPlane).toBe('native');
    await input.open();
    const decoder = decoderStandIn();
    let ended: string | null = null;
    const stop = input.feed(decoder.child.stdin!, {
      stats: () => undefined,
      end: (reason) => {
        ended = reason;
        decoder.child.stdin!.end();
      },
    });
    cleanups.push(stop);
    // cat exits only at the end of its input
    expect(await decoder.exited).toBe(0);
    expect(ended).toBe('no host sent to this receiver');
  });
});
