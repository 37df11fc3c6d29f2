/**
 * Pacing through a bottleneck, end to end on real UDP: the real sender and receiver, an in-process
 * relay whose narrow link holds 60 ms of traffic. The stream is a fifth of the (4 Mbit/s
 * through 6 Mbit/s, a keyframe every 2 s ten frames big: the same ratios), and the queue twice its 30 ms:
 * the relay shares this process's event loop, and a stall of it on a busy 2-core machine reads as a
 * burst (a keyframe still needs 83 kB where the queue holds 45). bench/pacing runs 20 through 30 Mbit/s
 * with a 30 ms queue, the relay in a process of its own. Judged by counts only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UdpRelay, type LinkProfile } from '../../../src/core/net/udp-relay';
import { streamThroughBottleneck } from '../../helpers/rtp-through-bottleneck';

const relays: UdpRelay[] = [];
afterEach(() => {
  for (const relay of relays.splice(0)) relay.close();
});

function run(pacingFactor: number | null) {
  return streamThroughBottleneck({
    seconds: 6, fps: 60, kbps: 4000, keyframeEverySeconds: 2, pacingFactor,
    link: { oneWayDelayMs: 5, loss: 0, capKbps: 6000, queueMs: 60 },
    relay: (target, profile: LinkProfile) => {
      const relay = new UdpRelay(target, profile);
      relays.push(relay);
      return relay;
    },
  });
}

describe('pacing through a bottleneck', () => {
  it('without pacing, a keyframe overflows the queue (the premise)', async () => {
    await run(null);
    expect(relays[0]!.queueDropped).toBeGreaterThan(0);
  }, 30_000);

  it('paced at 1.5x, no frame is lost', async () => {
    const result = await run(1.5);
    expect(result.keyframesSent).toBeGreaterThanOrEqual(3);
    expect(result.framesLost).toBe(0);
    expect(result.framesSkipped).toBe(0);
    expect(result.framesDelivered).toBe(result.framesSent);
  }, 30_000);
});
