// The native pacer (native/rtp/pacer.c) against the TypeScript it ports (pacer.ts): both driven with the
// same calls at the same times, and compared after every one (the packets sent at that call and their
// order, when the timer is due, the backlog and the delayed count). The calls come from a simulated
// encoder (frames of 1 to 60 packets at 30 or 60 fps, keyframes ten times the average frame, urgent
// resends, new targets, idle gaps) and from scripts that meet each rule. The TypeScript's setTimeout is
// vitest's fake one: its delay is read where it is armed, and it is fired at the time the C reports as
// next_at, with gb_pacer_drain at that same time (or both later: a timer firing late). Everything is
// seeded: a failure names its scenario, seed and step.
import koffi from 'koffi';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { Pacer, type PacingSettings } from '../../../src/core/rtp/pacer';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { seededRandom as prng } from '../../../src/core/util/seeded-random';

const libraryPath = nativeRtpLibrary('pacer.test.ts');
if (!libraryPath) console.log('pacer.test.ts: SKIPPED, no native rtp library to test (see the line above)');

// ---- the library through koffi ------------------------------------------------------------------------

/** gb_pacer_send of gb_rtp.h (anonymous: koffi's type names are per process). */
const SendProto = koffi.proto('void', ['void *', 'uint64_t', 'size_t']);

function bind(path: string) {
  const lib = koffi.load(path);
  return {
    create: lib.func('gb_pacer_new', 'void *', ['double', 'double', 'double', 'double', 'double', koffi.pointer(SendProto), 'void *']),
    free: lib.func('gb_pacer_free', 'void', ['void *']),
    setTarget: lib.func('gb_pacer_set_target', 'void', ['void *', 'double', 'double', 'double', 'double', 'double']),
    push: lib.func('gb_pacer_push', 'void', ['void *', 'uint64_t', 'size_t', 'bool', 'double']),
    drain: lib.func('gb_pacer_drain', 'void', ['void *', 'double']),
    nextAt: lib.func('gb_pacer_next_at', 'double', ['void *']),
    backlog: lib.func('gb_pacer_backlog_bytes', 'size_t', ['void *']),
    delayed: lib.func('gb_pacer_delayed', 'double', ['void *']),
  };
}
type Library = ReturnType<typeof bind>;

interface Packet {
  id: number;
  length: number;
}
interface Settings {
  targetKbps: number;
  fps: number;
  factor: number;
  linkKbps: number | null;
}

/** Node's setTimeout: a delay that is not a number from 1 to 2^31 - 1 ms is 1 ms. */
const nodeDelay = (delay: unknown): number => {
  const ms = Number(delay);
  return ms >= 1 && ms <= 2 ** 31 - 1 ? ms : 1;
};

// ---- both, call by call ---------------------------------------------------------------------------------

/**
 * The TypeScript and the C pacer on one clock. The fake timers' own clock is not the test's: they take a
 * delay in whole ms (parseInt) and would fire the TypeScript's timer up to 1 ms before the C's, so the
 * delay is read from setTimeout as it is armed and the timer fired with advanceTimersToNextTimer when due.
 */
class Pair {
  steps = 0;
  /** Packets that left 200 ms or more after they were pushed (the age rule at work, or a timer firing late). */
  waitedLong = 0;
  sent = 0;
  private clock: number;
  private readonly ts: Pacer<Packet>;
  private readonly handle: unknown;
  private readonly sink: koffi.IKoffiRegisteredCallback;
  private tsSent: number[] = [];
  private cSent: number[] = [];
  private tsArmedAt = -1;
  private armsSeen: number;
  private agreedNextAt = -1;
  private readonly pending = new Map<number, { length: number; at: number }>();

  constructor(
    private readonly lib: Library,
    private readonly armed: MockInstance<typeof setTimeout>,
    settings: Settings,
    start: number,
    private readonly where: string,
  ) {
    this.clock = start;
    this.armsSeen = armed.mock.calls.length;
    this.ts = new Pacer<Packet>(
      (packet) => {
        this.tsSent.push(packet.id);
        const pushed = this.pending.get(packet.id);
        if (pushed && this.clock - pushed.at >= 200) this.waitedLong += 1;
        this.pending.delete(packet.id);
        this.sent += 1;
      },
      this.settings(settings),
      () => this.clock,
    );
    this.sink = koffi.register((_ctx: unknown, id: number | bigint, length: number | bigint) => {
      const want = this.lengthOf(Number(id));
      if (Number(length) !== want) throw new Error(`${this.where}: C sent packet ${id} with length ${length}, pushed with ${want}`);
      this.cSent.push(Number(id));
    }, koffi.pointer(SendProto));
    this.handle = lib.create(settings.targetKbps, settings.fps, settings.factor, settings.linkKbps ?? 0, start, this.sink, null);
    if (!this.handle) throw new Error('gb_pacer_new failed');
    this.check('create', () => {}, () => {});
  }

  /** When the timer is due, -1 when none is armed (both agree). */
  get nextAt(): number {
    return this.agreedNextAt;
  }

  get backlog(): number {
    return this.ts.backlogBytes;
  }

  get delayed(): number {
    return this.ts.delayed;
  }

  /** The ids sent by a push, in order. */
  push(packet: Packet, urgent: boolean, at: number): number[] {
    this.moveTo(at);
    this.pending.set(packet.id, { length: packet.length, at });
    return this.check(
      `push ${packet.id} (${packet.length} bytes${urgent ? ', urgent' : ''}) at ${at}`,
      () => this.ts.push(packet, urgent),
      () => this.lib.push(this.handle, packet.id, packet.length, urgent, at),
    );
  }

  setTarget(settings: Settings, at: number): number[] {
    this.moveTo(at);
    return this.check(
      `set target ${JSON.stringify(settings)} at ${at}`,
      () => this.ts.setTarget(this.settings(settings)),
      () => this.lib.setTarget(this.handle, settings.targetKbps, settings.fps, settings.factor, settings.linkKbps ?? 0, at),
    );
  }

  /** The timer fires at `at`: when it is due, or later. */
  fire(at: number): number[] {
    if (this.agreedNextAt < 0 || at < this.agreedNextAt) throw new Error(`${this.where}: no timer due at ${at} (next at ${this.agreedNextAt})`);
    this.moveTo(at);
    return this.check(
      `timer due at ${this.agreedNextAt} fires at ${at}`,
      () => vi.advanceTimersToNextTimer(),
      () => this.lib.drain(this.handle, at),
    );
  }

  /** The timer fires now where it was due before (fired late), else when it is due. */
  fireDue(): number[] {
    return this.fire(Math.max(this.agreedNextAt, this.clock));
  }

  /** Fires the timer until nothing waits (or only packets of no bytes, which never arm it). */
  drainAll(): void {
    while (this.agreedNextAt >= 0) this.fireDue();
  }

  close(): void {
    this.ts.close();
    this.lib.free(this.handle);
    koffi.unregister(this.sink);
  }

  private settings(s: Settings): PacingSettings {
    return { targetKbps: s.targetKbps, fps: s.fps, factor: s.factor, linkKbps: s.linkKbps };
  }

  private lengthOf(id: number): number {
    return this.pending.get(id)?.length ?? -1;
  }

  private moveTo(at: number): void {
    if (at < this.clock) throw new Error(`${this.where}: time runs back from ${this.clock} to ${at}`);
    this.clock = at;
  }

  private check(call: string, runTs: () => void, runC: () => void): number[] {
    this.steps += 1;
    this.tsSent = [];
    this.cSent = [];
    runC(); // first: its callback looks the lengths up before the TypeScript's forgets them
    runTs();
    const fail = (what: string, want: unknown, got: unknown) => {
      throw new Error(`${this.where}, step ${this.steps} (${call}): ${what} differ: TypeScript ${JSON.stringify(want)}, C ${JSON.stringify(got)}`);
    };
    if (this.tsSent.join() !== this.cSent.join()) fail('packets sent', this.tsSent, this.cSent);
    const calls = this.armed.mock.calls;
    if (calls.length > this.armsSeen) {
      this.tsArmedAt = this.clock + nodeDelay(calls.at(-1)![1]);
      this.armsSeen = calls.length;
    }
    const timers = vi.getTimerCount();
    if (timers > 1) fail('timers armed', timers, 'one at most');
    const want = timers === 1 ? this.tsArmedAt : -1;
    const got = this.lib.nextAt(this.handle) as number;
    if (want !== got) fail('next_at', want, got);
    this.agreedNextAt = got;
    const backlog = Number(this.lib.backlog(this.handle));
    if (this.ts.backlogBytes !== backlog) fail('backlog bytes', this.ts.backlogBytes, backlog);
    const delayed = this.lib.delayed(this.handle) as number;
    if (this.ts.delayed !== delayed) fail('delayed', this.ts.delayed, delayed);
    return this.tsSent;
  }
}

// ---- a seeded encoder ------------------------------------------------------------------------------------

interface StreamScenario {
  name: string;
  seed: number;
  /** Calls into the pacers before it ends. */
  steps: number;
  fps: 30 | 60;
  /** The target's range, kbit/s: drawn at the start and at each new target. */
  targetKbps: [number, number];
  factor: [number, number];
  /** Chance that the link's rate is known, and then its range as a multiple of the target. */
  linkKnown: number;
  linkOverTarget: [number, number];
  keyframeEvery: number;
  /** Chance per frame of a new target (a step of 0.5 to 2 times, the link and the factor drawn again). */
  retarget: number;
  /** Chance per frame of 1 to 4 resends (urgent), pushed between frames. */
  resend: number;
  /** Chance per frame of an idle gap before it: half over 1 s (what was pushed is forgotten), half 0.4 to 1 s. */
  idle: number;
  /** Chance that a timer fires late (1 to 30 ms). */
  late: number;
  /** A frame's packets are pushed over this many ms (0: all at once, as RtpPeerSender does). */
  spreadMs: number;
  /** The pushes and new targets at whole ms: the comparisons at their bounds (200 ms, 500 ms, 1 s) are met exactly. */
  wholeMs?: boolean;
}

interface RunTotals {
  steps: number;
  packets: number;
  delayed: number;
  waitedLong: number;
  resends: number;
  retargetsArmed: number;
  idleGaps: number;
  lateFires: number;
}

function runStream(lib: Library, armed: MockInstance<typeof setTimeout>, s: StreamScenario): RunTotals {
  const random = prng(s.seed);
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const whole = (ms: number) => (s.wholeMs ? Math.round(ms) : ms);
  // a rate as the bitrate controller gives it: whole kbit/s or not
  const kbps = (rate: number) => (random() < 0.5 ? Math.round(rate) : rate);
  const draw = (targetKbps: number): Settings => ({
    targetKbps,
    fps: s.fps,
    factor: between(...s.factor),
    linkKbps: random() < s.linkKnown ? kbps(targetKbps * between(...s.linkOverTarget)) : null,
  });
  let settings = draw(kbps(between(...s.targetKbps)));
  const start = whole(between(0, 1e6));
  const pair = new Pair(lib, armed, settings, start, `${s.name} (seed ${s.seed})`);
  const totals: RunTotals = { steps: 0, packets: 0, delayed: 0, waitedLong: 0, resends: 0, retargetsArmed: 0, idleGaps: 0, lateFires: 0 };
  const frameMs = s.wholeMs ? Math.floor(1000 / s.fps) : 1000 / s.fps;
  let nextId = 1;
  // the timer's firing: when it is due, or late; drawn once for each time it is armed
  let armedFor = -1;
  let firesAt = -1;
  const timerMoved = () => {
    if (pair.nextAt === armedFor) return;
    armedFor = pair.nextAt;
    const late = random() < s.late ? whole(between(1, 30)) : 0;
    if (late > 0) totals.lateFires += 1;
    firesAt = pair.nextAt < 0 ? -1 : pair.nextAt + late;
  };
  // the timer fires before what comes at `at`, or at the same time before or after it
  const advance = (at: number) => {
    const timerFirst = random() < 0.5;
    while (firesAt >= 0 && (firesAt < at || (firesAt === at && timerFirst))) {
      pair.fire(firesAt);
      timerMoved();
    }
  };
  const push = (length: number, urgent: boolean, at: number) => {
    advance(at);
    pair.push({ id: nextId++, length }, urgent, at);
    totals.packets += 1;
    timerMoved();
  };

  let at = start;
  for (let frame = 0; pair.steps < s.steps; frame += 1) {
    if (random() < s.idle) {
      at += whole(random() < 0.5 ? between(1000, 2500) : between(400, 1000));
      totals.idleGaps += 1;
    }
    advance(at);
    if (random() < s.retarget) {
      const target = Math.max(s.targetKbps[0] / 2, kbps(settings.targetKbps * between(0.5, 2)));
      settings = draw(Math.min(target, s.targetKbps[1] * 2));
      if (pair.nextAt >= 0) totals.retargetsArmed += 1;
      pair.setTarget(settings, at);
      timerMoved();
    }
    const lengths: number[] = [];
    if (frame % s.keyframeEvery === 0) {
      const averageBytes = (settings.targetKbps * 1000) / 8 / settings.fps;
      for (let bytes = 0; bytes < 10 * averageBytes; bytes += lengths.at(-1)!) lengths.push(100 + Math.floor(random() * 1301));
    } else {
      const count = 1 + Math.floor(random() * 60);
      for (let i = 0; i < count; i += 1) lengths.push(100 + Math.floor(random() * 1301));
    }
    const events: { at: number; length: number; urgent: boolean }[] = [];
    let t = at;
    for (const length of lengths) {
      t += whole(random() * s.spreadMs);
      events.push({ at: t, length, urgent: false });
    }
    if (random() < s.resend) {
      const count = 1 + Math.floor(random() * 4);
      for (let i = 0; i < count; i += 1) events.push({ at: at + whole(random() * frameMs), length: 100 + Math.floor(random() * 1301), urgent: true });
      totals.resends += count;
    }
    events.sort((a, b) => a.at - b.at);
    for (const event of events) push(event.length, event.urgent, event.at);
    at = Math.max(at + frameMs, events.at(-1)!.at);
  }
  // what is left leaves, all of it, once each
  pair.drainAll();
  expect(pair.backlog).toBe(0);
  expect(pair.sent).toBe(totals.packets);
  totals.steps = pair.steps;
  totals.delayed = pair.delayed;
  totals.waitedLong = pair.waitedLong;
  pair.close();
  return totals;
}

const plain: Omit<StreamScenario, 'name' | 'seed'> = {
  steps: 5_000,
  fps: 60,
  targetKbps: [4_000, 12_000],
  factor: [1.5, 1.5],
  linkKnown: 0,
  linkOverTarget: [1, 1],
  keyframeEvery: 120,
  retarget: 0,
  resend: 0,
  idle: 0,
  late: 0,
  spreadMs: 0,
};

const STREAMS: StreamScenario[] = [
  { ...plain, name: 'steady 60 fps, no link known', seed: 1 },
  { ...plain, name: '30 fps, keyframes every 30 frames, a link known', seed: 2, fps: 30, keyframeEvery: 30, linkKnown: 1, linkOverTarget: [1.2, 3] },
  // a keyframe of 10 frames at 1.15 times the target takes 290 ms: what is left at 200 ms leaves for its age
  { ...plain, name: 'keyframes slower than 200 ms at the pace (the age rule)', seed: 3, fps: 30, targetKbps: [6_000, 12_000], keyframeEvery: 20, factor: [1, 1.1], linkKnown: 1, linkOverTarget: [1, 1.2] },
  { ...plain, name: 'a low target', seed: 11, targetKbps: [300, 1_500], keyframeEvery: 40, factor: [1, 1.2], resend: 0.1 },
  { ...plain, name: 'rate steps, factor 1 to 3, link known and not, below the target too', seed: 4, retarget: 0.3, factor: [1, 3], linkKnown: 0.6, linkOverTarget: [0.5, 2], targetKbps: [800, 16_000], steps: 8_000 },
  { ...plain, name: 'urgent resends', seed: 5, resend: 0.3, targetKbps: [1_000, 6_000], keyframeEvery: 60 },
  { ...plain, name: 'idle gaps over 1 s and around the 500 ms window', seed: 6, idle: 0.2, fps: 30, keyframeEvery: 20 },
  { ...plain, name: 'timers firing late, packets pushed over a few ms', seed: 7, late: 0.3, spreadMs: 0.05, resend: 0.1, retarget: 0.05 },
  { ...plain, name: 'whole ms: bounds met exactly', seed: 8, wholeMs: true, idle: 0.1, late: 0.2, resend: 0.2, retarget: 0.05, targetKbps: [500, 4_000], fps: 30, keyframeEvery: 25, factor: [1, 2] },
  { ...plain, name: 'whole ms at 60 fps, packets a ms apart', seed: 9, wholeMs: true, spreadMs: 2, idle: 0.05, late: 0.1, resend: 0.1, targetKbps: [1_000, 8_000], keyframeEvery: 50 },
  { ...plain, name: 'everything at once', seed: 10, steps: 10_000, fps: 30, retarget: 0.15, factor: [1, 3], linkKnown: 0.5, linkOverTarget: [0.5, 3], targetKbps: [300, 20_000], resend: 0.2, idle: 0.05, late: 0.2, spreadMs: 0.2, keyframeEvery: 45 },
];

describe.skipIf(!libraryPath)('the native pacer against pacer.ts', () => {
  const lib = libraryPath ? bind(libraryPath) : (null as unknown as Library);
  let armed: MockInstance<typeof setTimeout>;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    armed = vi.spyOn(globalThis, 'setTimeout');
  });
  afterEach(() => {
    armed.mockRestore();
    vi.useRealTimers();
  });
  const pair = (settings: Partial<Settings>, where: string, start = 0) => new Pair(lib, armed, { targetKbps: 8_000, fps: 60, factor: 1.5, linkKbps: null, ...settings }, start, where);
  const packets = (from: number, count: number, length: number): Packet[] => Array.from({ length: count }, (_, i) => ({ id: from + i, length }));

  it('sends alike over simulated streams (frames, keyframes, resends, new targets, idle gaps, late timers)', () => {
    const totals = STREAMS.map((s) => runStream(lib, armed, s));
    const sum = (name: keyof RunTotals) => totals.reduce((all, t) => all + t[name], 0);
    console.log(
      `pacer.test.ts: ${sum('steps')} calls compared over ${STREAMS.length} streams; ${sum('packets')} packets, ${sum('delayed')} delayed, ${sum('waitedLong')} waited 200 ms or more, ${sum('resends')} resends, ${sum('retargetsArmed')} new targets while the timer was armed, ${sum('idleGaps')} idle gaps, ${sum('lateFires')} late timers`,
    );
    expect(sum('steps')).toBeGreaterThan(50_000);
    for (const name of ['delayed', 'resends', 'retargetsArmed', 'idleGaps', 'lateFires'] as const) expect(sum(name)).toBeGreaterThan(0);
    // the age rule at work: a low target's keyframes wait their 200 ms and no more than a timer's lateness
    expect(totals[2]!.waitedLong).toBeGreaterThan(0);
  });

  it('lets an ordinary frame leave at once, and spreads a keyframe in order', () => {
    const p = pair({}, 'frame and keyframe');
    // 8 Mbit/s at 60 fps: the burst is one average frame, 16.7 kB
    const frame = packets(1, 13, 1_200);
    expect(frame.flatMap((packet) => p.push(packet, false, 0))).toEqual(frame.map((packet) => packet.id));
    expect(p.delayed).toBe(0);
    expect(p.nextAt).toBe(-1);
    const key = packets(100, 140, 1_200);
    const sent = key.flatMap((packet) => p.push(packet, false, 100));
    expect(sent.length).toBeLessThan(20);
    expect(p.nextAt).toBeGreaterThan(100);
    while (p.nextAt >= 0) sent.push(...p.fire(p.nextAt));
    expect(sent).toEqual(key.map((packet) => packet.id));
    expect(p.delayed).toBeGreaterThan(100);
    p.close();
  });

  it('sends urgent packets ahead of those waiting', () => {
    const p = pair({ targetKbps: 1_000, fps: 30 }, 'urgent');
    for (const packet of packets(1, 20, 1_400)) p.push(packet, false, 0);
    expect(p.backlog).toBeGreaterThan(0);
    p.push({ id: 100, length: 1_400 }, true, 1);
    p.push({ id: 101, length: 1_400 }, true, 2);
    const sent: number[] = [];
    while (p.nextAt >= 0) sent.push(...p.fire(p.nextAt));
    expect(sent.slice(0, 2)).toEqual([100, 101]);
    p.close();
  });

  it('sends a packet that waited 200 ms whatever the tokens say', () => {
    const p = pair({ targetKbps: 100, fps: 30 }, 'age rule');
    for (const packet of packets(1, 30, 1_400)) p.push(packet, false, 0);
    // 29 kB waiting, at 19 bytes a ms (lifted to 92 and less by what was pushed): about 11 packets go by 200 ms
    let last = { at: 0, sent: 0 };
    while (p.nextAt >= 0) {
      const at = p.nextAt;
      last = { at, sent: p.fire(at).length };
    }
    // the rest at 200 ms (or 1 ms later, where the timer's time rounds to just under it)
    expect(last.at).toBeGreaterThanOrEqual(200);
    expect(last.at).toBeLessThanOrEqual(201);
    expect(last.sent).toBeGreaterThan(5);
    p.close();
  });

  it('arms its timer again for a new target, and not where none was armed', () => {
    const p = pair({ targetKbps: 1_000, fps: 30 }, 'new target');
    p.setTarget({ targetKbps: 1_000, fps: 30, factor: 1.5, linkKbps: null }, 1);
    expect(p.nextAt).toBe(-1);
    // 187.5 bytes a ms: 600 bytes short, the timer is due 3.2 ms on; at the new pace, the least, 1 ms
    for (const packet of packets(1, 20, 1_400)) p.push(packet, false, 2);
    const before = p.nextAt;
    p.setTarget({ targetKbps: 40_000, fps: 30, factor: 1.5, linkKbps: 30_000 }, 3);
    expect(p.nextAt).toBeGreaterThan(3);
    expect(p.nextAt).toBeLessThan(before);
    p.setTarget({ targetKbps: 500, fps: 30, factor: 1, linkKbps: 400 }, 3.5);
    p.drainAll();
    p.close();
  });

  it('meets the window (500 ms, 1 s), the age (200 ms) and no tokens left as the TypeScript does: at them, just before and just after', () => {
    for (const d of [-0.5, -Number.EPSILON * 1024, 0, Number.EPSILON * 1024, 0.5]) {
      // 100 kbit/s: what was pushed sets the pace, and what it was tells at the next push's timer
      for (const windowAt of [500, 1_000]) {
        const p = pair({ targetKbps: 100, fps: 30 }, `the window at ${windowAt} ms, ${d} ms off`);
        for (const packet of packets(1, 30, 1_300)) p.push(packet, false, 0);
        p.drainAll();
        expect(p.backlog).toBe(0); // all gone by 201 ms: nothing else rolled the window
        for (const packet of packets(100, 30, 1_300)) p.push(packet, false, windowAt + d);
        p.drainAll();
        p.close();
      }
      // a timer firing late, at the first packet's age or about it
      const p = pair({ targetKbps: 100, fps: 30 }, `the age, ${d} ms off`);
      for (const packet of packets(1, 30, 1_300)) p.push(packet, false, 0);
      while (p.nextAt >= 0 && p.nextAt < 190) p.fire(p.nextAt);
      p.fire(Math.max(p.nextAt, 200 + d));
      p.drainAll();
      p.close();
    }
    // the burst spent to exactly no tokens: the next packet waits
    const p = pair({ targetKbps: 1_000, fps: 30 }, 'no tokens left');
    for (const packet of packets(1, 10, 1_200)) expect(p.push(packet, false, 0)).toEqual([packet.id]);
    expect(p.push({ id: 11, length: 1_200 }, false, 0)).toEqual([]);
    p.drainAll();
    p.close();
  });

  it('copes with odd settings and packets alike: no target, no fps, a link of 0, packets of no bytes', () => {
    const p = pair({ targetKbps: 0, fps: 0, linkKbps: 0 }, 'odd settings');
    let id = 1;
    for (let frame = 0; frame < 40; frame += 1) {
      if (frame === 20) p.setTarget({ targetKbps: 50, fps: 0.5, factor: 1, linkKbps: -5 }, frame * 20);
      for (let i = 0; i < 30; i += 1) p.push({ id: id++, length: i % 7 === 0 ? 0 : 1_200 }, i % 11 === 0, frame * 20 + i * 0.1);
      while (p.nextAt >= 0 && p.nextAt < (frame + 1) * 20) p.fireDue();
    }
    p.drainAll();
    p.close();
    // a target that is not a number: no tokens ever, Node's timer of 1 ms for a delay that is not a number, the age rule alone
    const nan = pair({ targetKbps: NaN }, 'a target not a number');
    for (let i = 0; i < 200; i += 1) nan.push({ id: i, length: 1_000 }, false, i * 3);
    nan.setTarget({ targetKbps: 8_000, fps: 60, factor: 1.5, linkKbps: null }, 600);
    nan.drainAll();
    nan.close();
  });

  it('holds at most 65536 packets (a departure from the TypeScript): the next one pushed is sent at once', () => {
    const sent: number[] = [];
    const sink = koffi.register((_ctx: unknown, id: number | bigint) => void sent.push(Number(id)), koffi.pointer(SendProto));
    const handle = lib.create(100, 30, 1, 0, 0, sink, null);
    let id = 0;
    while (sent.length === id) lib.push(handle, id++, 1_400, false, 0);
    const first = id; // the packets the burst let through, then the first to wait
    for (; id < first + 65_535; id += 1) lib.push(handle, id, 1_400, id % 2 === 0, 0);
    expect(sent.length).toBe(first - 1);
    lib.push(handle, id, 1_400, false, 0);
    expect(sent.at(-1)).toBe(id);
    expect(Number(lib.backlog(handle))).toBe(65_536 * 1_400);
    // and the age rule sends the rest, urgent first (the even ids from `first` on)
    lib.drain(handle, 200);
    expect(sent.length).toBe(id + 1);
    expect(sent.slice(first, first + 32_768).every((urgent) => urgent % 2 === 0)).toBe(true);
    expect(sent[first + 32_768]).toBe(first - 1);
    expect(Number(lib.backlog(handle))).toBe(0);
    lib.free(handle);
    koffi.unregister(sink);
  });
});
