import { describe, expect, it } from 'vitest';
import { KeyframeThrottle } from '../../../src/core/webrtc/keyframe-throttle';
import { parsePortRange } from '../../../src/core/webrtc/port-range';
import { historyPackets, RtpHistory } from '../../../src/core/webrtc/rtp-history';
import { ViewerClock } from '../../../src/core/webrtc/viewer-clock';

describe('WebRTC viewer pieces', () => {
  it('the NACK history covers at least a second at the target bitrate (werift keeps only 128 packets)', () => {
    for (const kbps of [500, 4000, 8000, 20_000, 50_000]) {
      const size = historyPackets(kbps);
      expect(size & (size - 1)).toBe(0);
      expect(size * 1200 * 8).toBeGreaterThanOrEqual(kbps * 1000);
    }
    expect(historyPackets(8000)).toBeGreaterThan(128);
  });

  it('history: a packet is found by its sequence number until overwritten, across the 16-bit wrap', () => {
    const history = new RtpHistory<string>(1024);
    for (let i = 0; i < 3000; i += 1) history.put((64_000 + i) & 0xffff, `p${i}`);
    const latest = (64_000 + 2999) & 0xffff;
    expect(history.get(latest)).toBe('p2999');
    expect(history.get((latest - 1023 + 0x10000) & 0xffff)).toBe('p1976');
    expect(history.get((latest - 1024 + 0x10000) & 0xffff)).toBeUndefined();
    expect(history.age((latest - 5 + 0x10000) & 0xffff)).toBe(5);
    expect(() => new RtpHistory(1000)).toThrow(/power of two/);
  });

  it('keyframe requests: at most one per 250 ms', () => {
    const throttle = new KeyframeThrottle();
    const passed = [0, 10, 100, 249, 250, 260, 499, 500, 900].filter((t) => throttle.take(1000 + t));
    expect(passed).toEqual([0, 250, 500, 900]);
    expect(throttle.held).toBe(5);
  });

  it('port range: MIN-MAX, refused with what to write otherwise', () => {
    expect(parsePortRange(undefined)).toEqual([50000, 50199]);
    expect(parsePortRange('51000-51099')).toEqual([51000, 51099]);
    for (const bad of ['51000', '100-200', '6000-5000', '60000-70000', 'a-b']) expect(() => parsePortRange(bad)).toThrow(/MIN-MAX/);
  });

  it('clock: the offset comes from the ping with the shortest round trip', () => {
    const clock = new ViewerClock();
    const a = clock.ping(1000);
    clock.pong(a, 1000 + 500 + 40, 1080); // rtt 80: offset 500
    const b = clock.ping(2000);
    clock.pong(b, 2000 + 502 + 5, 2010); // rtt 10: offset 502
    clock.pong(999, 5, 5); // unknown id: ignored
    expect(clock.estimate).toEqual({ offsetMs: 502, rttMs: 10 });
  });
});

describe('playout delay', () => {
  it('the extension id is the one werift put in its offer', async () => {
    const { playoutDelayId } = await import('../../../src/core/webrtc/playout-delay');
    expect(playoutDelayId('v=0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n')).toBe(2);
    expect(playoutDelayId('v=0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n')).toBeNull();
  });
});
