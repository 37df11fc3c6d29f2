/**
 * The delay-based controller (rtp) on synthetic arrival series: a simulated link (FIFO at a capacity,
 * a tail-drop queue, seeded random loss, 15 ms each way) carries the encoder's frames packet by packet;
 * the receiver's DelayGauge reads the arrivals; the controller reads the gauge each second. Time is
 * simulated: every figure here is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { DelayGauge, MAX_TRAIN_KBPS } from '../../../src/core/rtp/delay-gauge';
import { BitrateController, type BitrateStep } from '../../../src/core/sessions/bitrate-controller';
import { seededRandom } from '../../../src/core/util/seeded-random';

const FPS = 60;
const PACKET = 1200;

interface Link {
  /** kbit/s of the narrow part at this second, or null: none. */
  capKbps: (second: number) => number | null;
  queueMs: number;
  loss: number;
}

/** Runs `seconds` of a stream asked at `targetKbps` over `link`; the rate each second and the steps taken. */
function simulate(targetKbps: number, link: Link, seconds: number) {
  const controller = new BitrateController(targetKbps, undefined, undefined, true);
  const gauge = new DelayGauge();
  const random = seededRandom(3);
  const rates: number[] = [];
  const steps: (BitrateStep & { at: number })[] = [];
  let linkFreeAt = 0;
  const window: { sent: number; lost: number; frames: number; framesLost: number }[] = [];
  for (let second = 0; second < seconds; second += 1) {
    rates.push(controller.current);
    const cap = link.capKbps(second);
    let sent = 0;
    let lost = 0;
    let framesLost = 0;
    // the gauge's second closes as the receiver's does: arrivals are fed in order of arrival
    const arrivals: { at: number; timestamp: number; bytes: number }[] = [];
    let fecBytes = 0;
    for (let f = 0; f < FPS; f += 1) {
      const sentAt = second * 1000 + (f * 1000) / FPS;
      const packets = Math.max(1, Math.round((controller.current * 1000) / 8 / FPS / PACKET));
      // the frame's FEC (10%) follows it over the link; the gauge reads media packets only
      const parity = Math.ceil(packets * 0.1);
      let frameLost = 0;
      for (let p = 0; p < packets + parity; p += 1) {
        const media = p < packets;
        if (media) sent += 1;
        const leaves = sentAt + p * 0.01;
        if (random() < link.loss) {
          if (media) lost += 1;
          frameLost += 1;
          continue;
        }
        let at = leaves;
        if (cap !== null) {
          const queued = Math.max(linkFreeAt, leaves) - leaves;
          if (queued > link.queueMs) {
            if (media) lost += 1;
            frameLost += 1;
            continue;
          }
          linkFreeAt = leaves + queued + (PACKET * 8) / cap;
          at = linkFreeAt;
        }
        if (!media) fecBytes += PACKET;
        if (media) arrivals.push({ at: at + 15, timestamp: Math.round(sentAt * 90), bytes: PACKET });
      }
      if (frameLost > parity) framesLost += 1;
    }
    arrivals.sort((a, b) => a.at - b.at);
    for (const a of arrivals) gauge.packet(a.timestamp, a.bytes, a.at);
    gauge.fec(fecBytes);
    const figures = gauge.second();
    window.push({ sent, lost, frames: FPS, framesLost });
    if (window.length > 5) window.shift();
    const sum = window.reduce((acc, w) => ({ sent: acc.sent + w.sent, lost: acc.lost + w.lost, frames: acc.frames + w.frames, framesLost: acc.framesLost + w.framesLost }), { sent: 0, lost: 0, frames: 0, framesLost: 0 });
    const step = controller.observe(
      { lossRatio: sum.framesLost / sum.frames, packetLossRatio: sum.lost / sum.sent, secondLossRatio: lost / sent, lateRatio: 0, p95Ms: null, rttMs: 30, ...figures },
      (second + 1) * 1000,
    );
    if (step) steps.push({ ...step, at: second + 1 });
  }
  return { rates, steps, controller };
}

describe('the receiver\'s delay gauge', () => {
  it('reads a steady path as no queue, a filling one as its growth, and a narrow link\'s rate from the packet trains', () => {
    const gauge = new DelayGauge();
    // 10 packets a frame, back to back on an open path: 40 ms one way, whatever the clocks' offset
    for (let f = 0; f < 60; f += 1) for (let p = 0; p < 10; p += 1) gauge.packet(f * 1500, 1200, 5000 + f * 16.667 + 40 + p * 0.001);
    const open = gauge.second();
    expect(open.queueDelayMs).toBeLessThan(1);
    expect(open.trainKbps).toBe(MAX_TRAIN_KBPS);
    expect(open.receivedKbps).toBe(Math.round((600 * 1200 * 8) / 1000));
    // the next second through a 4000 kbit/s link (a packet every 2.4 ms) that is 20 ms behind and falling further
    for (let f = 60; f < 120; f += 1) for (let p = 0; p < 10; p += 1) gauge.packet(f * 1500, 1200, 5000 + f * 16.667 + 40 + 20 + (f - 60) * 0.5 + p * 2.4);
    const narrow = gauge.second();
    expect(narrow.queueDelayMs).toBeGreaterThan(30);
    expect(narrow.trainKbps).toBe(4000);
  });
});

describe('adaptive bitrate on the link\'s capacity (rtp)', () => {
  it('does not step down for 3% random loss with no bottleneck', () => {
    const { steps } = simulate(8000, { capKbps: () => null, queueMs: 0, loss: 0.03 }, 60);
    expect(steps).toEqual([]);
  });

  it('steps down for more random loss than FEC repairs', () => {
    const { steps } = simulate(8000, { capKbps: () => null, queueMs: 0, loss: 0.2 }, 10);
    expect(steps[0]).toMatchObject({ from: 8000, reason: expect.stringMatching(/frames lost|more than FEC repairs/) });
  });

  it('asked 8 Mbit/s through 5: settles below 5 for good, and climbs back once the bottleneck lifts', () => {
    const { rates, steps } = simulate(8000, { capKbps: (s) => (s >= 10 && s < 40 ? 5000 : null), queueMs: 50, loss: 0 }, 60);
    expect(rates.slice(0, 10).every((r) => r === 8000)).toBe(true);
    const firstDown = steps.find((s) => s.to < s.from)!;
    expect(firstDown.reason).toMatch(/the link is full: queueing delay/);
    // counts of seconds, not timings: from 5 s after the bottleneck came until it lifted, never at 5 Mbit/s or more
    expect(rates.slice(15, 41).every((r) => r < 5000)).toBe(true);
    // and not starved: it probes towards what the link carries
    expect(Math.max(...rates.slice(15, 41))).toBeGreaterThan(4000);
    // back at the request within 10 s of the lift
    expect(rates[50]).toBe(8000);
    expect(steps.filter((s) => s.at > 40 && s.to > s.from)[0]!.reason).toMatch(/no queue on the link/);
  });

  it('takes a busy CPU\'s late seconds (deep, not growing, no loss) for no queue, and a queue that grows or stands for one', () => {
    const second = { lossRatio: 0, packetLossRatio: 0, lateRatio: 0, p95Ms: null, rttMs: 10, receivedKbps: 5000, trainKbps: 900_000 };
    const busy = new BitrateController(8000, undefined, undefined, true);
    const spikes = [2, 40, 30, 3, 70, 25, 60, 4, 45, 2, 3, 50, 20, 2];
    expect(spikes.map((queueDelayMs, i) => busy.observe({ ...second, queueDelayMs }, (i + 1) * 1000)).filter(Boolean)).toEqual([]);
    const filling = new BitrateController(8000, undefined, undefined, true);
    const growing = [2, 20, 35, 50].map((queueDelayMs, i) => filling.observe({ ...second, queueDelayMs }, (i + 1) * 1000));
    expect(growing.filter(Boolean)).toMatchObject([{ from: 8000, reason: expect.stringMatching(/the link is full: queueing delay 35/) }]);
    const standing = new BitrateController(8000, undefined, undefined, true);
    const deep = [150, 140, 150].map((queueDelayMs, i) => standing.observe({ ...second, queueDelayMs }, (i + 1) * 1000));
    expect(deep.filter(Boolean)).toHaveLength(1);
  });

  it('on a 5%-lossy link, two late seconds are not an overflowing queue; loss well beyond the usual with a queue is', () => {
    const second = { lossRatio: 0, packetLossRatio: 0.05, lateRatio: 0, p95Ms: null, rttMs: 80, receivedKbps: 2000, trainKbps: 900_000 };
    const lossy = new BitrateController(2000, undefined, undefined, true);
    const delays = [2, 3, 2, 4, 3, 60, 65, 3, 2, 3];
    expect(delays.map((queueDelayMs, i) => lossy.observe({ ...second, queueDelayMs, secondLossRatio: 0.05 }, (i + 1) * 1000)).filter(Boolean)).toEqual([]);
    const full = [50, 50].map((queueDelayMs, i) => lossy.observe({ ...second, queueDelayMs, secondLossRatio: 0.3 }, (i + 11) * 1000));
    expect(full.filter(Boolean)).toMatchObject([{ reason: expect.stringMatching(/the link is full: queueing delay 50 ms, 30.0% of packets lost/) }]);
  });

  it('a step informed by the link\'s rate is not held back by a blind one just before (frames lost as the queue came)', () => {
    const controller = new BitrateController(8000, undefined, undefined, true);
    const second = { lateRatio: 0, p95Ms: null, rttMs: 30, trainKbps: 5000, fecRatio: 0.1 };
    const blind = controller.observe({ ...second, lossRatio: 0.2, packetLossRatio: 0, secondLossRatio: 0, queueDelayMs: 0, receivedKbps: 8800 }, 1000);
    expect(blind).toMatchObject({ from: 8000, to: 6800, reason: expect.stringMatching(/frames lost/) });
    expect(controller.observe({ ...second, lossRatio: 0.2, packetLossRatio: 0.3, secondLossRatio: 0.3, queueDelayMs: 40, receivedKbps: 5000 }, 2000)).toBeNull();
    // 2 s after the blind step, inside its hold: the link is full at 5000 kbit/s, and the step lands below it now
    const informed = controller.observe({ ...second, lossRatio: 0.2, packetLossRatio: 0.3, secondLossRatio: 0.3, queueDelayMs: 80, receivedKbps: 5000 }, 3000);
    expect(informed).toMatchObject({ from: 6800, reason: expect.stringMatching(/the link is full/) });
    expect(informed!.to).toBeLessThan(5000 / 1.13);
    // and the queue's own loss is not the link's random loss: the FEC is held to what it was without a queue
    expect(controller.queueLoss).toBe(0);
  });

  it('takes the link\'s rate from the best second of a standing queue, not one that had less to send', () => {
    const controller = new BitrateController(8000, undefined, undefined, true);
    const second = { lateRatio: 0, p95Ms: null, rttMs: 30, trainKbps: 5000, fecRatio: 0.1, lossRatio: 0, packetLossRatio: 0, secondLossRatio: 0.3 };
    expect(controller.observe({ ...second, queueDelayMs: 40, receivedKbps: 5000 }, 1000)).toBeNull();
    // the second after: an encoder run restarting sent less, 3000 kbit/s got through a link that carries 5000
    const step = controller.observe({ ...second, queueDelayMs: 80, receivedKbps: 3000 }, 2000);
    expect(step).toMatchObject({ from: 8000, to: Math.round((0.85 * 5000) / 1.13), reason: expect.stringMatching(/5000 kbit\/s got through/) });
  });

  it('does nothing on a second whose figures have not come', () => {
    const c = new BitrateController(8000, undefined, undefined, true);
    expect(c.observe({ lossRatio: 0.5, lateRatio: 0, p95Ms: 500, rttMs: 10, queueDelayMs: null }, 10_000)).toBeNull();
  });
});
