import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFecPayloads } from '../../../src/core/rtp/fec';
import { FrameAssembler, repairBudgetMs, type AssemblerActions } from '../../../src/core/rtp/frame-assembler';

interface Packet {
  kind: 'media' | 'fec';
  seq: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

/** One H.264 frame as single-NAL RTP packets (an IDR slice per packet, or non-IDR), then its FEC. */
function frame(firstSeq: number, index: number, packets: number, parity: number, keyframe: boolean, tick = 1500): { media: Packet[]; fec: Packet[] } {
  const timestamp = 90_000 + index * tick;
  const media: Packet[] = [];
  for (let i = 0; i < packets; i += 1) {
    const payload = Buffer.alloc(100 + ((index * 7 + i * 13) % 900), index + i);
    payload[0] = keyframe ? 0x65 : 0x41;
    media.push({ kind: 'media', seq: (firstSeq + i) & 0xffff, timestamp, marker: i === packets - 1, payload });
  }
  const fec = buildFecPayloads({ baseSeq: firstSeq & 0xffff, payloads: media.map((p) => p.payload), endsFrame: true, startsFrame: true }, parity).map(
    (payload, i): Packet => ({ kind: 'fec', seq: i, timestamp, marker: false, payload }),
  );
  return { media, fec };
}

/** A stream of frames: the first a keyframe, the others not unless listed; `tick` apart at 90 kHz (60 fps). */
function stream(count: number, packets: number, parity: number, keyframes: number[] = [0], firstSeq = 65_500, tick = 1500) {
  const frames = [];
  let seq = firstSeq;
  for (let i = 0; i < count; i += 1) {
    frames.push(frame(seq, i, packets, parity, keyframes.includes(i), tick));
    seq += packets;
  }
  return frames;
}

function feed(assembler: FrameAssembler, packet: Packet, now: number): AssemblerActions {
  return packet.kind === 'media' ? assembler.media(packet, now) : assembler.fec(packet, now);
}

/**
 * Packets read together (one burst from the socket), then the receiver's look once it is drained: a
 * give-up is decided only there, never for one datagram with others perhaps queued behind it.
 */
function burst(assembler: FrameAssembler, packets: Packet[], now: number): AssemblerActions[] {
  const out = packets.map((p) => feed(assembler, p, now));
  const last = out.at(-1);
  if (last?.wakeAt !== null && last?.wakeAt !== undefined && last.wakeAt <= now) out.push(assembler.poll(now));
  return out;
}

/**
 * A clean first frame at 0, then the second's media at 16 with the packets at `lostIndexes` lost and its
 * parity lost too (FEC cannot help): the frame waits for NACK. The third frame is returned unsent.
 */
function holeInSecondFrame(rtt: number, lostIndexes: number[]) {
  const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
  const [first, second, third] = stream(3, 6, 1);
  [...first!.media, ...first!.fec].forEach((p) => feed(assembler, p, 0));
  const lost = lostIndexes.map((i) => second!.media[i]!);
  const arrived = burst(assembler, second!.media.filter((p) => !lost.includes(p)), 16);
  return { assembler, lost, third: third!, wakeAt: arrived.at(-1)!.wakeAt! };
}

/** Feeds timed packets in order, polling at each wakeAt that comes before the next one, as the receiver's timer does. */
function drive(assembler: FrameAssembler, events: { at: number; packet: Packet }[]): AssemblerActions[] {
  const out: AssemblerActions[] = [];
  let wakeAt: number | null = null;
  const note = (actions: AssemblerActions) => {
    out.push(actions);
    wakeAt = actions.wakeAt;
  };
  for (const { at, packet } of [...events].sort((x, y) => x.at - y.at)) {
    while (wakeAt !== null && wakeAt < at) note(assembler.poll(wakeAt));
    note(feed(assembler, packet, at));
  }
  return out;
}

describe('the rtp receiver frame logic (FEC, NACK, keyframe on loss)', () => {
  it('waits for a frame whose packets are still arriving (paced, or through a narrow link) well past its repair budget', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 10 });
    // a 200-packet keyframe, one packet every 0.75 ms: 150 ms from first to last, its budget at 10 ms RTT is 35
    const [key, next] = stream(2, 200, 1);
    const events = [...key!.media.map((packet, i) => ({ at: i * 0.75, packet })), { at: 150, packet: key!.fec[0]! }, ...next!.media.slice(0, 10).map((packet, i) => ({ at: 151 + i * 0.5, packet }))];
    const actions = drive(assembler, events);
    expect(actions.flatMap((a) => a.frames).map((f) => f.keyframe)).toEqual([true]);
    expect(assembler.counters.framesLost).toBe(0);
  });

  it('hands each complete frame on at its last packet, in order, across the sequence wrap', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 20 });
    const delivered: number[] = [];
    stream(10, 5, 1).forEach((f, i) => {
      f.media.forEach((p, j) => {
        const actions = feed(assembler, p, i * 16 + j * 0.1);
        // nothing waits for the next frame: the frame goes out with its marker packet (the very first one
        // with its FEC, which says where it starts)
        if (i === 0) return;
        if (j === f.media.length - 1) expect(actions.frames.map((x) => x.timestamp)).toEqual([p.timestamp]);
        else expect(actions.frames).toEqual([]);
        delivered.push(...actions.frames.map((x) => x.timestamp));
      });
      f.fec.forEach((p) => delivered.push(...feed(assembler, p, i * 16 + 1).frames.map((x) => x.timestamp)));
    });
    expect(delivered).toHaveLength(10);
    expect(assembler.counters).toMatchObject({ framesDelivered: 10, framesLost: 0, fecRecovered: 0, nacksSent: 0, keyframeRequests: 0 });
  });

  it('rebuilds a lost packet from the frame\'s FEC without asking for it', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 20 });
    const [first, second] = stream(2, 6, 2);
    first!.media.forEach((p) => feed(assembler, p, 0));
    first!.fec.forEach((p) => feed(assembler, p, 0.5));
    const out: AssemblerActions[] = [];
    second!.media.forEach((p, j) => j !== 2 && j !== 4 && out.push(feed(assembler, p, 16)));
    out.push(...second!.fec.map((p) => feed(assembler, p, 16.5)));
    expect(out.flatMap((a) => a.nack)).toEqual([]);
    const frames = out.flatMap((a) => a.frames);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.data.includes(second!.media[2]!.payload)).toBe(true);
    expect(assembler.counters.fecRecovered).toBe(2);
  });

  it('asks for what FEC cannot rebuild once the hole is sure, and hands the frame on when the repair arrives', () => {
    const rtt = 30;
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
    const [first, second, third] = stream(3, 6, 1);
    [...first!.media, ...first!.fec].forEach((p) => feed(assembler, p, 0));
    // two packets of the second frame lost, one parity: not enough
    const lost = [second!.media[1]!, second!.media[3]!];
    let actions = [...second!.media.filter((p) => !lost.includes(p)), ...second!.fec].map((p) => feed(assembler, p, 16));
    expect(actions.flatMap((a) => a.nack)).toEqual([]); // not yet sure: the rest of the burst may come
    // reordering wait is over: now ask
    const polled = assembler.poll(16 + 3);
    expect(polled.nack.sort()).toEqual(lost.map((p) => p.seq).sort());
    // the third frame arrives complete but waits for the second (decode order)
    actions = [...third!.media, ...third!.fec].map((p) => feed(assembler, p, 32));
    expect(actions.flatMap((a) => a.frames)).toEqual([]);
    expect(actions.flatMap((a) => a.nack)).toEqual([]); // already asked, not again within 1.5 RTT
    const repaired = lost.map((p) => feed(assembler, p, 16 + 3 + rtt));
    expect(repaired.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual([second!.media[0]!.timestamp, third!.media[0]!.timestamp]);
    // the first repair makes the frame's single parity packet enough for the second
    expect(assembler.counters).toMatchObject({ nackRecovered: 1, fecRecovered: 1, framesLost: 0, keyframeRequests: 0 });
  });

  it('waits for a resend already asked for while later frames arrive, as long as it can come before the frame is due', () => {
    // 30 fps over an 80 ms round trip: two more frames arrive before the resend can; asking again at
    // either of them would be too late, but the first request is not
    const rtt = 80;
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
    const frames = stream(4, 6, 1);
    const at = (i: number) => i * 33;
    const all: AssemblerActions[] = [...frames[0]!.media, ...frames[0]!.fec].map((p) => feed(assembler, p, at(0)));
    const lost = [frames[1]!.media[1]!, frames[1]!.media[4]!];
    all.push(...[...frames[1]!.media, ...frames[1]!.fec].filter((p) => !lost.includes(p)).map((p) => feed(assembler, p, at(1))));
    all.push(assembler.poll(at(1) + 3));
    expect(all.flatMap((a) => a.nack).sort()).toEqual(lost.map((p) => p.seq).sort());
    for (const i of [2, 3]) all.push(...[...frames[i]!.media, ...frames[i]!.fec].map((p) => feed(assembler, p, at(i))));
    expect(assembler.counters.framesLost).toBe(0);
    const resentAt = at(1) + 3 + rtt;
    expect(resentAt).toBeLessThan(at(1) + repairBudgetMs(rtt));
    all.push(...lost.map((p) => feed(assembler, p, resentAt)));
    expect(all.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual(frames.map((f) => f.media[0]!.timestamp));
    expect(all.some((a) => a.pli)).toBe(false);
    expect(assembler.counters).toMatchObject({ framesLost: 0, nackRecovered: 1, fecRecovered: 1, nacksSent: 2, keyframeRequests: 0 });
  });

  it('asks for a frame lost whole at 30 fps (two frame intervals without a packet are not an outage)', () => {
    const rtt = 30;
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
    const frames = stream(5, 3, 1, [0], 65_500, 3000);
    const at = (i: number) => i * 33.3;
    const all: AssemblerActions[] = [];
    for (const i of [0, 1, 3]) all.push(...[...frames[i]!.media, ...frames[i]!.fec].map((p) => feed(assembler, p, at(i))));
    expect(all.flatMap((a) => a.nack).sort()).toEqual(frames[2]!.media.map((p) => p.seq).sort());
    const resentAt = at(3) + rtt;
    all.push(...frames[2]!.media.map((p) => feed(assembler, p, resentAt)));
    all.push(...[...frames[4]!.media, ...frames[4]!.fec].map((p) => feed(assembler, p, at(4))));
    expect(all.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual(frames.map((f) => f.media[0]!.timestamp));
    expect(assembler.counters).toMatchObject({ framesLost: 0, nackRecovered: 3, keyframeRequests: 0 });
  });

  it('before the round trip is measured, waits for a resend until the frame is due instead of guessing when it is overdue', () => {
    const linkRtt = 80; // the link's, not yet known to the receiver
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => null });
    const frames = stream(4, 6, 1, [0], 65_500, 3000);
    const at = (i: number) => i * 33.3;
    const lost = [frames[1]!.media[1]!, frames[1]!.media[4]!];
    const events = frames.flatMap((f, i) => [...f.media, ...f.fec].filter((p) => !lost.includes(p)).map((packet) => ({ at: at(i), packet })));
    const askedAt = at(1) + 3;
    const resentAt = askedAt + linkRtt + 1;
    expect(resentAt).toBeLessThan(at(1) + repairBudgetMs(null));
    events.push(...lost.map((packet) => ({ at: resentAt, packet })));
    const all = drive(assembler, events);
    expect(all.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual(frames.map((f) => f.media[0]!.timestamp));
    expect(assembler.counters).toMatchObject({ framesLost: 0, nackRecovered: 1, keyframeRequests: 0 });
  });

  it('a receiver that stalled past a frame\'s due time reads both its resends before deciding: the frame goes on, nothing given up', () => {
    const rtt = 30;
    // two packets of the second frame lost, and its parity too
    const { assembler, lost, third } = holeInSecondFrame(rtt, [1, 3]);
    expect(assembler.poll(16 + 3).nack.sort()).toEqual(lost.map((p) => p.seq).sort());
    // both resends came in time, but the process was not scheduled until well past the frame's due time:
    // they are read in one burst, the first one alone could not complete the frame
    const late = 16 + repairBudgetMs(rtt) + 40;
    const actions = burst(assembler, [...lost, ...third.media], late);
    expect(actions.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual([lost[0]!.timestamp, third.media[0]!.timestamp]);
    expect(assembler.counters).toMatchObject({ nackRecovered: 2, framesLost: 0, keyframeRequests: 0 });
  });

  it('waits until the frame is due for a resend already asked for, where asking again could not arrive in time (a sender slow to answer)', () => {
    const rtt = 0.2; // loopback
    const { assembler, lost: lostPackets } = holeInSecondFrame(rtt, [1]);
    const lost = lostPackets[0]!;
    expect(assembler.poll(16 + 3).nack).toEqual([lost.seq]);
    const due = 16 + repairBudgetMs(rtt);
    // the retry window has passed, and a second request could not arrive before the frame is due
    const look = assembler.poll(due - 3);
    expect(look.nack).toEqual([]);
    expect(assembler.counters.framesLost).toBe(0);
    expect(look.wakeAt).toBe(due);
    // the first request's resend comes, late but in time
    const repaired = burst(assembler, [lost], due - 1);
    expect(repaired.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual([lost.timestamp]);
    expect(assembler.counters).toMatchObject({ nackRecovered: 1, framesLost: 0, keyframeRequests: 0 });
  });

  it('a hole the receiver could not see while it was not running is still asked for once (its budget lengthened by the stall)', () => {
    const rtt = 0.2;
    const budget = repairBudgetMs(rtt);
    const run = (lateMs: number, counted: boolean) => {
      const { assembler, lost: lostPackets, wakeAt: wake } = holeInSecondFrame(rtt, [1]);
      const lost = lostPackets[0]!;
      // the look asked for 3 ms on comes `lateMs` late, when asking now could not arrive before the budget ends
      const now = wake + lateMs;
      expect(now + rtt + 5).toBeGreaterThan(16 + budget);
      if (counted) assembler.stalled(lateMs);
      return { assembler, lost, look: assembler.poll(now), now };
    };
    const { assembler, lost, look, now } = run(20, true);
    expect(look.nack).toEqual([lost.seq]);
    expect(assembler.counters.framesLost).toBe(0);
    const repaired = burst(assembler, [lost], now + 1);
    expect(repaired.flatMap((a) => a.frames).map((f) => f.timestamp)).toEqual([lost.timestamp]);
    // the same look, its lateness not told: given up, a keyframe asked for
    const untold = run(20, false);
    expect(untold.look.nack).toEqual([]);
    expect(untold.look.pli).toBe(true);
    expect(untold.assembler.counters.framesLost).toBe(1);
  });

  it('a timer\'s usual lateness is not a stall, and a stall lengthens a frame\'s budget by one budget at most', () => {
    const rtt = 0.2;
    const budget = repairBudgetMs(rtt);
    const asked = () => {
      const { assembler } = holeInSecondFrame(rtt, [1]);
      expect(assembler.poll(16 + 3).nack).toHaveLength(1);
      return assembler;
    };
    const usual = asked();
    usual.stalled(2);
    usual.poll(16 + budget);
    expect(usual.counters.framesLost).toBe(1);

    const long = asked();
    for (let i = 0; i < 10; i += 1) long.stalled(100);
    long.poll(16 + 2 * budget - 1);
    expect(long.counters.framesLost).toBe(0);
    long.poll(16 + 2 * budget);
    expect(long.counters.framesLost).toBe(1);
  });

  it('the look after the burst still gives a frame up when the burst did not complete it', () => {
    const rtt = 30;
    const { assembler, lost, third } = holeInSecondFrame(rtt, [1, 3]);
    assembler.poll(16 + 3);
    const late = 16 + repairBudgetMs(rtt) + 40;
    const read = [lost[0]!, ...third.media].map((p) => feed(assembler, p, late));
    // for each datagram: no give-up, a look asked for at once
    expect(assembler.counters.framesLost).toBe(0);
    expect(read.at(-1)!.wakeAt).toBeLessThanOrEqual(late);
    const look = assembler.poll(late);
    expect(assembler.counters.framesLost).toBe(1);
    expect(look.pli).toBe(true);
  });

  it('does not ask for a repair that cannot arrive before the frame is due: gives it up and asks for a keyframe', () => {
    const rtt = 200; // a far link: the repair budget (150 ms) is shorter than a round trip
    expect(repairBudgetMs(rtt)).toBeLessThan(rtt);
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
    const frames = stream(5, 4, 1, [0, 4]);
    [...frames[0]!.media, ...frames[0]!.fec].forEach((p) => feed(assembler, p, 0));
    const second = frames[1]!;
    [second.media[0]!, second.media[3]!].forEach((p) => feed(assembler, p, 16)); // two lost, FEC lost too
    const actions = burst(assembler, [...frames[2]!.media, ...frames[2]!.fec], 32);
    expect(actions.flatMap((a) => a.nack)).toEqual([]);
    expect(actions.some((a) => a.pli)).toBe(true);
    expect(assembler.counters.framesLost).toBe(1);
    // the picture is broken: frames that are not keyframes are not shown, the next keyframe is
    const later = [...frames[3]!.media, ...frames[3]!.fec, ...frames[4]!.media, ...frames[4]!.fec].map((p) => feed(assembler, p, 48));
    const shown = [...actions, ...later].flatMap((a) => a.frames);
    expect(shown.map((f) => f.keyframe)).toEqual([true]);
    expect(assembler.counters.framesSkipped).toBe(2);
    expect(assembler.counters.cleanPictureMs).toHaveLength(1);
  });

  it('gives a frame up when it is due, even with no later packet, and asks for a keyframe', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 10 });
    const [first, second] = stream(2, 4, 1);
    [...first!.media, ...first!.fec].forEach((p) => feed(assembler, p, 0));
    const start = 16;
    const sent = second!.media.slice(0, 2).map((p) => feed(assembler, p, start));
    const wake = sent.at(-1)!.wakeAt!;
    expect(wake).toBeGreaterThan(start);
    let actions = assembler.poll(wake);
    const due = start + repairBudgetMs(10);
    for (let now = wake; now < due && !actions.pli; now += 1) actions = assembler.poll(now);
    actions = assembler.poll(due);
    expect(assembler.counters.framesLost).toBe(1);
    expect(actions.pli).toBe(true);
  });

  it('after an outage asks again for a keyframe as the link returns, and measures the time to a clean picture from then', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 30 });
    const frames = stream(30, 3, 1, [0, 25]);
    let now = 0;
    const pliAt: number[] = [];
    frames.forEach((f, i) => {
      now = i * 16;
      // frames 10..21 (about 200 ms) are lost entirely
      if (i >= 10 && i < 22) {
        const polled = assembler.poll(now);
        if (polled.pli) pliAt.push(now);
        return;
      }
      if (burst(assembler, [...f.media, ...f.fec], now).some((a) => a.pli)) pliAt.push(now);
    });
    expect(assembler.counters.framesLost).toBeGreaterThanOrEqual(1);
    // one request while the link was down (likely lost), one as soon as packets come back
    expect(pliAt.some((t) => t >= 22 * 16 && t < 23 * 16)).toBe(true);
    expect(assembler.counters.cleanPictureMs).toEqual([25 * 16 - 22 * 16]);
  });

  it('never hands on a frame that is incomplete, whatever is lost, and every frame the FEC can rebuild comes out (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 20 * 8, maxLength: 20 * 8 }), fc.integer({ min: 0, max: 3 }), (keep, parity) => {
        const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 500 });
        const frames = stream(20, 5, parity, [0]);
        const all = frames.flatMap((f, i) => [...f.media, ...f.fec].map((p) => ({ p, i })));
        const shown: Buffer[] = [];
        all.forEach(({ p, i }, n) => {
          if (keep[n % keep.length] === false && n > 8) return;
          shown.push(...feed(assembler, p, i * 16).frames.map((f) => f.data));
        });
        shown.push(...assembler.poll(10_000).frames.map((f) => f.data));
        const expected = new Set(frames.map((f) => Buffer.concat(f.media.flatMap((p) => [Buffer.from([0, 0, 0, 1]), p.payload])).toString('hex')));
        for (const data of shown) expect(expected.has(data.toString('hex'))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('ignores malformed FEC and keeps the bounds under a flood of frames that never complete', () => {
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => 10 });
    const [first] = stream(1, 3, 1);
    [...first!.media, ...first!.fec].forEach((p) => feed(assembler, p, 0));
    expect(() => assembler.fec({ timestamp: 1, payload: Buffer.from([1, 2, 3]) }, 1)).not.toThrow();
    for (let i = 0; i < 5000; i += 1) assembler.media({ seq: (i * 2) & 0xffff, timestamp: 1000 + i, marker: false, payload: Buffer.from([0x41, 1]) }, 2 + i * 0.001);
    expect(assembler.counters.framesDelivered).toBe(1);
    expect(assembler.counters.framesLost).toBeGreaterThan(0);
  });

  it('waits out a keyframe whose packets take longer than the repair budget to come in, and still gives up a hole in time', () => {
    const rtt = 2;
    const assembler = new FrameAssembler({ codec: 'h264', rttMs: () => rtt });
    // 200 packets over 60 ms, more than twice the budget, then the next frame
    const [key, next] = stream(2, 200, 20, [0]);
    const events = [...key!.media, ...key!.fec].map((packet, i) => ({ at: 1000 + i * 0.3, packet }));
    const delivered = drive(assembler, events).flatMap((actions) => actions.frames);
    expect(repairBudgetMs(rtt)).toBeLessThan(60);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.keyframe).toBe(true);
    expect(assembler.counters.framesLost).toBe(0);
    // the next frame loses its last two packets and its FEC: given up one budget after its last packet
    const lastAt = 1100 + 197 * 0.3;
    drive(assembler, next!.media.slice(0, 198).map((packet, i) => ({ at: 1100 + i * 0.3, packet })));
    expect(assembler.poll(lastAt + repairBudgetMs(rtt) - 1).frames).toHaveLength(0);
    expect(assembler.counters.framesLost).toBe(0);
    assembler.poll(lastAt + repairBudgetMs(rtt) + 1);
    expect(assembler.counters.framesLost).toBe(1);
  });
});
