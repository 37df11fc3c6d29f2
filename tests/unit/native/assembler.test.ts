// The native frame assembler (native/rtp/assembler.c) against the TypeScript it ports (frame-assembler.ts):
// both driven with the same calls, every answer compared (the frames with their bytes, the NACKs, the PLI,
// when to look again) and every counter after each call. The calls come from a simulated sender and link
// (an H.264 or HEVC stream packetized as ffmpeg does, FEC as RtpPeerSender sends it, loss, bursts,
// reordering, duplicates, resends answering the NACKs after a round trip, keyframes answering PLIs, timers
// firing late, stalls), and from a hostile one (random sequence numbers, timestamps, FEC and payloads).
// Everything is seeded: a failure names its scenario, seed and step.
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import type { RtpVideoCodec } from '../../../src/core/rtp/depacketize';
import { blocksForFrame, buildFecPayloads, parityCount } from '../../../src/core/rtp/fec';
import { FrameAssembler, type AssemblerActions } from '../../../src/core/rtp/frame-assembler';
import { nativeRtpLibrary } from '../../helpers/native-rtp';
import { seededRandom as prng } from '../../../src/core/util/seeded-random';

const libraryPath = nativeRtpLibrary('assembler.test.ts');
if (!libraryPath) console.log('assembler.test.ts: SKIPPED, no native rtp library to test (see the line above)');

// ---- the library through koffi ------------------------------------------------------------------------

/** gb_frame, gb_actions and gb_asm_counters of gb_rtp.h (anonymous: koffi's type names are per process). */
const FrameStruct = koffi.struct({ timestamp: 'uint32_t', data: 'void *', len: 'size_t', keyframe: 'bool', first_arrival: 'double' });
const ActionsStruct = koffi.struct({ nack_count: 'size_t', nack: koffi.array('uint16_t', 4096), pli: 'bool', has_wake: 'bool', wake_at: 'double' });
const COUNTER_NAMES = ['framesDelivered', 'framesLost', 'framesSkipped', 'fecRecovered', 'nackRecovered', 'nacksSent', 'keyframeRequests', 'cleanCount'] as const;
const FrameSink = koffi.proto('void', ['void *', 'void *']);

const ACTIONS_BYTES = koffi.sizeof(ActionsStruct);
const NACK_COUNT_AT = koffi.offsetof(ActionsStruct, 'nack_count');
const NACK_AT = koffi.offsetof(ActionsStruct, 'nack');
const PLI_AT = koffi.offsetof(ActionsStruct, 'pli');
const HAS_WAKE_AT = koffi.offsetof(ActionsStruct, 'has_wake');
const WAKE_AT = koffi.offsetof(ActionsStruct, 'wake_at');

interface NativeFrame {
  timestamp: number;
  data: unknown;
  len: number | bigint;
  keyframe: boolean;
  first_arrival: number;
}

/** What both assemblers answer, in one shape: the TypeScript's actions, and its counters with cleanPictureMs as count and max. */
interface Answer {
  frames: { timestamp: number; data: Buffer; keyframe: boolean; firstArrival: number }[];
  nack: number[];
  pli: boolean;
  wakeAt: number | null;
}
type Counters = Record<(typeof COUNTER_NAMES)[number], number>;

function bind(path: string) {
  const lib = koffi.load(path);
  return {
    create: lib.func('gb_asm_new', 'void *', ['int', koffi.pointer(FrameSink), 'void *']),
    free: lib.func('gb_asm_free', 'void', ['void *']),
    setRtt: lib.func('gb_asm_set_rtt', 'void', ['void *', 'double']),
    media: lib.func('gb_asm_media', 'void', ['void *', 'uint16_t', 'uint32_t', 'bool', 'uint8_t *', 'size_t', 'double', 'uint8_t *']),
    fec: lib.func('gb_asm_fec', 'void', ['void *', 'uint32_t', 'uint8_t *', 'size_t', 'double', 'uint8_t *']),
    poll: lib.func('gb_asm_poll', 'void', ['void *', 'double', 'bool', 'uint8_t *']),
    stalled: lib.func('gb_asm_stalled', 'void', ['void *', 'double']),
    counters: lib.func('gb_asm_get_counters', 'void', ['void *', 'uint8_t *']),
    takeCleanMax: lib.func('gb_asm_take_clean_max', 'double', ['void *']),
  };
}
type Library = ReturnType<typeof bind>;

/** The C assembler, answering as the TypeScript does. Payloads go through one reused buffer, scribbled over after each call: it must keep copies. */
class NativeAssembler {
  private readonly handle: unknown;
  private readonly sink: ReturnType<typeof koffi.register>;
  private readonly out = Buffer.alloc(ACTIONS_BYTES);
  private readonly countersOut = Buffer.alloc(8 * COUNTER_NAMES.length);
  private readonly payload = Buffer.alloc(70_000);
  private frames: Answer['frames'] = [];

  constructor(
    private readonly lib: Library,
    codec: RtpVideoCodec,
  ) {
    this.sink = koffi.register((_ctx: unknown, pointer: unknown) => {
      const frame = koffi.decode(pointer, FrameStruct) as NativeFrame;
      const data = Buffer.from(new Uint8Array(koffi.view(frame.data, Number(frame.len))));
      this.frames.push({ timestamp: frame.timestamp, data, keyframe: frame.keyframe, firstArrival: frame.first_arrival });
    }, koffi.pointer(FrameSink));
    this.handle = lib.create(codec === 'h264' ? 0 : 1, this.sink, null);
    if (!this.handle) throw new Error('gb_asm_new failed');
  }

  setRtt(rtt: number | null): void {
    this.lib.setRtt(this.handle, rtt ?? -1);
  }

  media(packet: { seq: number; timestamp: number; marker: boolean; payload: Buffer }, now: number): Answer {
    return this.call(() => this.lib.media(this.handle, packet.seq, packet.timestamp, packet.marker, this.lend(packet.payload), packet.payload.length, now, this.out));
  }

  fec(packet: { timestamp: number; payload: Buffer }, now: number): Answer {
    return this.call(() => this.lib.fec(this.handle, packet.timestamp, this.lend(packet.payload), packet.payload.length, now, this.out));
  }

  poll(now: number, mayGiveUp: boolean): Answer {
    return this.call(() => this.lib.poll(this.handle, now, mayGiveUp, this.out));
  }

  stalled(ms: number): void {
    this.lib.stalled(this.handle, ms);
  }

  counters(): Counters {
    this.lib.counters(this.handle, this.countersOut);
    return Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, this.countersOut.readDoubleLE(8 * i)])) as Counters;
  }

  takeCleanMax(): number {
    return this.lib.takeCleanMax(this.handle) as number;
  }

  close(): void {
    this.lib.free(this.handle);
    koffi.unregister(this.sink);
  }

  private lend(payload: Buffer): Buffer {
    payload.copy(this.payload);
    return this.payload;
  }

  private call(run: () => void): Answer {
    this.frames = [];
    this.out.fill(0xa5); // each call must reset what it answers
    run();
    this.payload.fill(0x5a, 0, 2048); // what the caller does with its buffer next
    const nackCount = Number(this.out.readBigUInt64LE(NACK_COUNT_AT));
    if (nackCount > 4096) throw new Error(`nack_count ${nackCount}`);
    const nack = Array.from({ length: nackCount }, (_, i) => this.out.readUInt16LE(NACK_AT + 2 * i));
    return { frames: this.frames, nack, pli: this.out[PLI_AT] === 1, wakeAt: this.out[HAS_WAKE_AT] === 1 ? this.out.readDoubleLE(WAKE_AT) : null };
  }
}

// ---- both, call by call ---------------------------------------------------------------------------------

type Packet = { kind: 'media'; seq: number; timestamp: number; marker: boolean; payload: Buffer } | { kind: 'fec'; timestamp: number; payload: Buffer };

/** The TypeScript and the C assembler fed alike; every answer and every counter compared, a mismatch thrown with where it happened. */
class Pair {
  readonly ts: FrameAssembler;
  readonly native: NativeAssembler;
  steps = 0;
  private rtt: number | null = null;
  private cleanSeen = 0;

  constructor(
    lib: Library,
    codec: RtpVideoCodec,
    private readonly where: string,
  ) {
    this.ts = new FrameAssembler({ codec, rttMs: () => this.rtt });
    this.native = new NativeAssembler(lib, codec);
  }

  setRtt(rtt: number | null): void {
    this.rtt = rtt;
    this.native.setRtt(rtt);
  }

  packet(packet: Packet, now: number): AssemblerActions {
    if (packet.kind === 'media') return this.check(`media seq ${packet.seq} ts ${packet.timestamp}${packet.marker ? ' marker' : ''} at ${now}`, this.ts.media(packet, now), this.native.media(packet, now));
    return this.check(`fec ts ${packet.timestamp} at ${now}`, this.ts.fec(packet, now), this.native.fec(packet, now));
  }

  poll(now: number, mayGiveUp: boolean): AssemblerActions {
    return this.check(`poll at ${now}${mayGiveUp ? '' : ' (may not give up)'}`, this.ts.poll(now, mayGiveUp), this.native.poll(now, mayGiveUp));
  }

  stalled(ms: number): void {
    this.ts.stalled(ms);
    this.native.stalled(ms);
    this.check(`stalled ${ms}`, null, null);
  }

  close(): void {
    this.native.close();
  }

  private check(call: string, expected: AssemblerActions | null, actual: Answer | null): AssemblerActions {
    this.steps += 1;
    const fail = (what: string, want: unknown, got: unknown) => {
      throw new Error(`${this.where}, step ${this.steps} (${call}): ${what} differ: TypeScript ${JSON.stringify(want)}, C ${JSON.stringify(got)}`);
    };
    if (expected && actual) {
      if (expected.frames.length !== actual.frames.length) fail('frame counts', expected.frames.length, actual.frames.length);
      expected.frames.forEach((want, i) => {
        const got = actual.frames[i]!;
        const shape = (f: typeof got | typeof want) => ({ timestamp: f.timestamp, keyframe: f.keyframe, firstArrival: f.firstArrival, bytes: f.data.length });
        if (JSON.stringify(shape(want)) !== JSON.stringify(shape(got))) fail(`frame ${i}`, shape(want), shape(got));
        if (!want.data.equals(got.data)) fail(`frame ${i} bytes`, want.data.toString('hex').slice(0, 80), got.data.toString('hex').slice(0, 80));
      });
      if (expected.nack.join() !== actual.nack.join()) fail('nack', expected.nack, actual.nack);
      if (expected.pli !== actual.pli) fail('pli', expected.pli, actual.pli);
      if (expected.wakeAt !== actual.wakeAt) fail('wakeAt', expected.wakeAt, actual.wakeAt);
    }
    const c = this.ts.counters;
    const want: Counters = {
      framesDelivered: c.framesDelivered, framesLost: c.framesLost, framesSkipped: c.framesSkipped, fecRecovered: c.fecRecovered,
      nackRecovered: c.nackRecovered, nacksSent: c.nacksSent, keyframeRequests: c.keyframeRequests, cleanCount: c.cleanPictureMs.length,
    };
    const got = this.native.counters();
    if (JSON.stringify(want) !== JSON.stringify(got)) fail('counters', want, got);
    const fresh = c.cleanPictureMs.slice(this.cleanSeen);
    this.cleanSeen = c.cleanPictureMs.length;
    const wantClean = fresh.length > 0 ? Math.max(...fresh) : -1;
    const gotClean = this.native.takeCleanMax();
    if (wantClean !== gotClean) fail('cleanPictureMs max', wantClean, gotClean);
    return expected ?? { frames: [], nack: [], pli: false, wakeAt: null };
  }
}

// ---- a seeded stream and link ------------------------------------------------------------------------

/** A NAL unit of this type and length (at least its header), contents from the generator. */
function nal(codec: RtpVideoCodec, type: number, length: number, random: () => number): Buffer {
  const headerBytes = codec === 'h264' ? 1 : 2;
  const unit = Buffer.alloc(Math.max(headerBytes + 1, length));
  for (let i = headerBytes; i < unit.length; i += 1) unit[i] = (random() * 256) | 0;
  if (codec === 'h264') unit[0] = 0x60 | type;
  else {
    unit[0] = type << 1;
    unit[1] = 1;
  }
  return unit;
}

/** ffmpeg's RTP packetizer in short: NAL units that fit go alone or together (STAP-A / AP), larger ones in fragments (FU-A / FU). */
function packetize(codec: RtpVideoCodec, units: Buffer[], mtu: number): Buffer[] {
  const headerBytes = codec === 'h264' ? 1 : 2;
  const payloads: Buffer[] = [];
  let together: Buffer[] = [];
  let togetherBytes = headerBytes;
  const flush = () => {
    if (together.length === 1) payloads.push(together[0]!);
    if (together.length > 1) {
      const header = codec === 'h264' ? Buffer.from([(Math.max(...together.map((u) => u[0]! & 0x60)) | 24) & 0xff]) : Buffer.from([48 << 1, 1]);
      payloads.push(Buffer.concat([header, ...together.flatMap((u) => [Buffer.from([u.length >> 8, u.length & 0xff]), u])]));
    }
    together = [];
    togetherBytes = headerBytes;
  };
  for (const unit of units) {
    if (unit.length <= mtu) {
      if (togetherBytes + 2 + unit.length > mtu) flush();
      together.push(unit);
      togetherBytes += 2 + unit.length;
      continue;
    }
    flush();
    const type = codec === 'h264' ? unit[0]! & 0x1f : (unit[0]! >> 1) & 0x3f;
    const header = codec === 'h264' ? Buffer.from([(unit[0]! & 0xe0) | 28]) : Buffer.from([(unit[0]! & 0x81) | (49 << 1), unit[1]!]);
    const content = unit.subarray(headerBytes);
    const room = mtu - headerBytes - 1;
    for (let at = 0; at < content.length; at += room) {
      const fuHeader = (at === 0 ? 0x80 : 0) | (at + room >= content.length ? 0x40 : 0) | type;
      payloads.push(Buffer.concat([header, Buffer.from([fuHeader]), content.subarray(at, at + room)]));
    }
  }
  flush();
  return payloads;
}

/** One frame's packets as RtpPeerSender sends them: its media, then its FEC (one parity packet a block here). */
function framePackets(codec: RtpVideoCodec, units: Buffer[], firstSeq: number, timestamp: number): Packet[] {
  const payloads = packetize(codec, units, 1_200);
  const media = payloads.map((payload, i): Packet => ({ kind: 'media', seq: (firstSeq + i) & 0xffff, timestamp, marker: i === payloads.length - 1, payload }));
  const blocks = blocksForFrame(payloads.length);
  const fec = blocks.flatMap((block, index) =>
    buildFecPayloads({ baseSeq: (firstSeq + block.start) & 0xffff, payloads: payloads.slice(block.start, block.start + block.k), endsFrame: index === blocks.length - 1, startsFrame: index === 0 }, 1),
  );
  return [...media, ...fec.map((payload): Packet => ({ kind: 'fec', timestamp, payload }))];
}

interface LinkScenario {
  name: string;
  seed: number;
  codec: RtpVideoCodec;
  /** Calls into the assemblers before it ends. */
  steps: number;
  mtu: number;
  frameMs: number;
  maxPackets: number;
  keyframeEvery: number;
  /** Starts with a keyframe (else the receiver joins a stream that has none on its way). */
  startKey: boolean;
  fecRatio: number;
  /** Each block's parity right after its media, instead of all after the frame's (as RtpPeerSender sends). */
  fecAfterBlock: boolean;
  loss: number;
  /** Chance per packet that a burst of loss starts, and its mean length. */
  burst: number;
  burstLength: number;
  /** Chance per frame of an outage (everything lost for 100 to 400 ms). */
  outage: number;
  reorder: number;
  reorderMs: number;
  duplicate: number;
  oneWayMs: number;
  /** When the round trip becomes known (ms into the run), null: never. */
  rttKnownAt: number | null;
  /** The sender answers NACKs this much later, at most (a busy sender). */
  answerDelayMs: number;
  /** Chance that a timer fires late by a stall (5 to 80 ms) instead of on time. */
  stall: number;
  /** Frames after which the sender's sequence jumps (a new stream), none when empty. */
  jumps: number[];
  pacingMs: number;
  /** Every time a whole ms (and frames exactly frameMs apart): the comparisons at their bounds are met exactly. */
  wholeMs?: boolean;
}

interface TimedEvent {
  at: number;
  order: number;
  kind: 'frame' | 'arrive' | 'nack' | 'pli' | 'poke';
  packet?: Packet;
  seqs?: number[];
}

/** A binary heap of events by time, then by when they were queued. */
class Events {
  private readonly heap: TimedEvent[] = [];
  private order = 0;

  constructor(private readonly wholeMs: boolean) {}

  push(event: Omit<TimedEvent, 'order'>): void {
    const item = { ...event, at: this.wholeMs ? Math.ceil(event.at) : event.at, order: this.order++ };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  peek(): TimedEvent | undefined {
    return this.heap[0];
  }

  pop(): TimedEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && this.before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && this.before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }

  private before(a: TimedEvent, b: TimedEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }
}

/** What a run went through, to show the scenarios reach what they are meant to. */
interface RunTotals extends Counters {
  steps: number;
  framesSent: number;
  framesMatched: number;
}

/**
 * A sender and a link as the rtp transport has them, the receiver's timer as rtp-receiver.ts arms it (the
 * earliest wakeAt asked for; fired late now and then, with the datagrams that came meanwhile read first and
 * the lateness passed to stalled), and the sender answering NACKs (from its history) and PLIs (a keyframe
 * after an encoder restart) after the link's delay.
 */
function runLink(lib: Library, s: LinkScenario): RunTotals {
  const random = prng(s.seed);
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const pair = new Pair(lib, s.codec, `${s.name} (seed ${s.seed})`);
  const events = new Events(s.wholeMs ?? false);
  const whole = (ms: number) => (s.wholeMs ? Math.round(ms) : ms);
  const history = new Map<number, Packet & { kind: 'media' }>();
  const sentFrames = new Map<number, Buffer>();
  let seq = Math.floor(between(65_536 - 400, 65_536));
  let timestamp = Math.floor(between(0, 2 ** 32 - 1));
  let frameIndex = 0;
  let keyframeAfter: number | null = null;
  let burstLeft = 0;
  let outageUntil = -1;
  let timerAt: number | null = null;
  let clock = 0;
  let framesMatched = 0;

  const lost = (at: number): boolean => {
    if (at < outageUntil) return true;
    if (burstLeft > 0) {
      burstLeft -= 1;
      return true;
    }
    if (random() < s.burst) {
      burstLeft = Math.floor(between(1, 2 * s.burstLength));
      return true;
    }
    return random() < s.loss;
  };
  const send = (packet: Packet, at: number) => {
    if (lost(at)) return;
    const arrive = at + s.oneWayMs + random() * 0.4 + (random() < s.reorder ? random() * s.reorderMs : 0);
    events.push({ at: arrive, kind: 'arrive', packet });
    if (random() < s.duplicate) events.push({ at: arrive + random() * 5, kind: 'arrive', packet });
  };
  const sendFrame = (at: number) => {
    const keyframe = (frameIndex === 0 && s.startKey) || (frameIndex > 0 && frameIndex % s.keyframeEvery === 0) || (keyframeAfter !== null && at >= keyframeAfter);
    if (keyframe) keyframeAfter = null;
    if (s.jumps.includes(frameIndex)) seq = (seq + Math.floor(between(2_100, 30_000))) & 0xffff;
    if (random() < s.outage) outageUntil = at + between(100, 400);
    const target = keyframe ? Math.ceil(between(s.maxPackets / 2, s.maxPackets)) : Math.ceil(s.maxPackets * random() ** 3);
    const sliceBytes = Math.max(8, Math.floor(target * (s.mtu - 8) - 40));
    const slices = 1 + Math.floor(random() * 3);
    const units: Buffer[] = [];
    const h264 = s.codec === 'h264';
    if (keyframe) units.push(nal(s.codec, h264 ? 7 : 32, 12, random), nal(s.codec, h264 ? 8 : 33, 20, random), nal(s.codec, h264 ? 8 : 34, 6, random));
    else if (random() < 0.2) units.push(nal(s.codec, h264 ? 6 : 39, 9, random));
    for (let i = 0; i < slices; i += 1) units.push(nal(s.codec, keyframe ? (h264 ? 5 : 19) : 1, Math.ceil(sliceBytes / slices), random));
    const payloads = packetize(s.codec, units, s.mtu);
    const firstSeq = seq;
    sentFrames.set(timestamp, Buffer.concat(units.flatMap((u) => [Buffer.from([0, 0, 0, 1]), u])));
    if (sentFrames.size > 512) sentFrames.delete(sentFrames.keys().next().value!);
    let t = at;
    const blocks = s.fecRatio > 0 ? blocksForFrame(payloads.length) : [];
    const parityFor = (index: number) => {
      const block = blocks[index]!;
      const m = parityCount(block.k, s.fecRatio);
      const fec = buildFecPayloads({ baseSeq: (firstSeq + block.start) & 0xffff, payloads: payloads.slice(block.start, block.start + block.k), endsFrame: index === blocks.length - 1, startsFrame: index === 0 }, m);
      for (const payload of fec) {
        t += random() * s.pacingMs;
        send({ kind: 'fec', timestamp, payload }, t);
      }
    };
    payloads.forEach((payload, i) => {
      const packet = { kind: 'media' as const, seq, timestamp, marker: i === payloads.length - 1, payload };
      history.set(seq, packet);
      seq = (seq + 1) & 0xffff;
      t += random() * s.pacingMs;
      send(packet, t);
      const block = blocks.findIndex((b) => b.start + b.k - 1 === i);
      if (s.fecAfterBlock && block >= 0) parityFor(block);
    });
    if (!s.fecAfterBlock) blocks.forEach((_, index) => parityFor(index));
    timestamp = (timestamp + Math.round(s.frameMs * 90 * (s.wholeMs ? 1 : between(0.95, 1.05)))) >>> 0;
    frameIndex += 1;
  };
  // what the receiver does with an answer: send the feedback, and arm its timer
  const act = (actions: AssemblerActions, now: number) => {
    for (const frame of actions.frames) {
      const sent = sentFrames.get(frame.timestamp);
      if (!sent?.equals(frame.data)) throw new Error(`${s.name} (seed ${s.seed}): the frame at ${frame.timestamp} came out unlike the one sent`);
      framesMatched += 1;
    }
    if (actions.nack.length > 0 && random() > s.loss) events.push({ at: now + s.oneWayMs + random(), kind: 'nack', seqs: actions.nack });
    if (actions.pli && random() > s.loss) events.push({ at: now + s.oneWayMs + random(), kind: 'pli' });
    if (actions.wakeAt !== null) timerAt = timerAt === null ? actions.wakeAt : Math.min(timerAt, actions.wakeAt);
  };
  const receive = (event: TimedEvent, now: number) => {
    if (event.kind === 'arrive') act(pair.packet(event.packet!, now), now);
    if (event.kind === 'poke') {
      const pick = random();
      if (pick < 0.4) act(pair.poll(now, true), now);
      else if (pick < 0.7) act(pair.poll(now, false), now);
      else if (pick < 0.9) pair.stalled(whole(random() < 0.5 ? random() * 5 : random() * 200));
      else if (clock >= (s.rttKnownAt ?? Infinity)) pair.setRtt(whole(2 * s.oneWayMs + between(0, 30)));
      events.push({ at: now + between(1, 60), kind: 'poke' });
    }
  };
  const atSender = (event: TimedEvent) => {
    if (event.kind === 'frame') {
      sendFrame(event.at);
      events.push({ at: event.at + s.frameMs * (s.wholeMs ? 1 : between(0.9, 1.1)), kind: 'frame' });
    }
    if (event.kind === 'nack') {
      const answerAt = event.at + random() * s.answerDelayMs;
      for (const asked of event.seqs!) {
        const packet = history.get(asked);
        if (packet) send(packet, answerAt);
      }
    }
    if (event.kind === 'pli') keyframeAfter = event.at + between(20, 120);
  };

  events.push({ at: 0, kind: 'frame' });
  events.push({ at: 3, kind: 'poke' });
  let rttSet = false;
  while (pair.steps < s.steps) {
    if (!rttSet && s.rttKnownAt !== null && clock >= s.rttKnownAt) {
      pair.setRtt(whole(2 * s.oneWayMs + between(0, 5)));
      rttSet = true;
    }
    const next = events.peek()!;
    if (timerAt !== null && timerAt <= next.at) {
      const late = whole(random() < s.stall ? between(5, 80) : random() < 0.3 ? random() * 3 : 0);
      const armedAt: number = timerAt;
      const firesAt = Math.max(clock, armedAt + late);
      // after a stall the datagrams that came meanwhile are read first, at the time they are read
      while (events.peek()!.at <= firesAt) {
        const event = events.pop()!;
        if (event.kind === 'arrive' || event.kind === 'poke') receive(event, firesAt);
        else atSender(event);
      }
      // what they asked for is superseded by the look that follows (rtp-receiver.ts, wake)
      timerAt = null;
      clock = firesAt;
      pair.stalled(firesAt - armedAt);
      act(pair.poll(firesAt, true), firesAt);
      continue;
    }
    events.pop();
    if (next.kind === 'arrive' || next.kind === 'poke') {
      clock = Math.max(clock, next.at);
      receive(next, clock);
    } else {
      atSender(next);
    }
  }
  const totals = { ...pair.native.counters(), steps: pair.steps, framesSent: frameIndex, framesMatched };
  pair.close();
  return totals;
}

// ---- a hostile sender -------------------------------------------------------------------------------------

/**
 * Whatever an authenticated but hostile sender could send: sequence numbers all over (and far jumps),
 * more timestamps than frames may be in flight, markers at random, FEC with random blocks (wrong lengths,
 * conflicting headers, more blocks than a frame keeps), payloads valid and not, and calls at random times.
 */
function runHostile(lib: Library, codec: RtpVideoCodec, seed: number, steps: number): Counters {
  const random = prng(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const pair = new Pair(lib, codec, `hostile ${codec} (seed ${seed})`);
  const timestamps = Array.from({ length: 70 }, (_, i) => (0xffff_fff0 + i * 3000) >>> 0);
  const recent: { seq: number; payload: Buffer }[] = [];
  let base = pick(65_536);
  let now = 0;
  const payload = (): Buffer => {
    const h264 = codec === 'h264';
    const headerBytes = h264 ? 1 : 2;
    const kind = random();
    if (kind < 0.5) return nal(codec, random() < 0.3 ? (h264 ? 5 : 19) : 1, 2 + pick(30), random);
    if (kind < 0.7) {
      const header = h264 ? Buffer.from([28 | 0x60]) : Buffer.from([49 << 1, 1]);
      return Buffer.concat([header, Buffer.from([(random() < 0.4 ? 0x80 : 0) | (random() < 0.4 ? 0x40 : 0) | (h264 ? 5 : 19)]), nal(codec, 1, 4 + pick(20), random).subarray(headerBytes)]);
    }
    if (kind < 0.8) return packetize(codec, [nal(codec, 1, 3 + pick(10), random), nal(codec, h264 ? 5 : 19, 3 + pick(10), random)], 200)[0]!;
    return Buffer.from(Array.from({ length: pick(12) }, () => pick(256)));
  };
  const fec = (): Buffer => {
    if (recent.length > 0 && random() < 0.6) {
      const start = pick(recent.length);
      const k = Math.min(recent.length - start, 1 + pick(6));
      const block = recent.slice(start, start + k);
      const m = 1 + pick(4);
      const built = buildFecPayloads({ baseSeq: block[0]!.seq, payloads: block.map((p) => p.payload), endsFrame: random() < 0.5, startsFrame: random() < 0.5 }, m);
      return built[pick(built.length)]!;
    }
    const k = 1 + pick(8);
    const m = pick(4);
    const shardLength = 2 + pick(20);
    const out = Buffer.alloc(8 + (random() < 0.9 ? shardLength : pick(30)));
    out.writeUInt16BE((base + pick(100) - 50) & 0xffff, 0);
    out[2] = random() < 0.05 ? 0 : k;
    out[3] = m;
    out[4] = random() < 0.9 ? pick(Math.max(1, m)) : pick(256);
    out[5] = pick(4);
    out.writeUInt16BE(shardLength, 6);
    for (let i = 8; i < out.length; i += 1) out[i] = pick(256);
    return out;
  };
  while (pair.steps < steps) {
    now += random() < 0.05 ? random() * 300 : random() * 4;
    const kind = random();
    if (kind < 0.6) {
      const seq = (base + pick(60) - 20) & 0xffff;
      const packet: Packet = { kind: 'media', seq, timestamp: timestamps[pick(timestamps.length)]!, marker: random() < 0.15, payload: payload() };
      recent.push({ seq, payload: packet.payload });
      if (recent.length > 20) recent.shift();
      pair.packet(packet, now);
      base = (base + pick(3)) & 0xffff;
    } else if (kind < 0.8) {
      pair.packet({ kind: 'fec', timestamp: timestamps[pick(timestamps.length)]!, payload: fec() }, now);
    } else if (kind < 0.93) {
      pair.poll(now, random() < 0.6);
    } else if (kind < 0.97) {
      pair.stalled(random() * 100);
    } else if (kind < 0.985) {
      pair.setRtt(random() < 0.3 ? null : random() * 200);
    } else {
      base = (base + (random() < 0.5 ? 1_000 + pick(3_000) : 30_000 + pick(5_000))) & 0xffff;
    }
  }
  const counters = pair.native.counters();
  pair.close();
  return counters;
}

// ---- the scenarios ------------------------------------------------------------------------------------------

const plain: Omit<LinkScenario, 'name' | 'seed' | 'codec'> = {
  steps: 4_000, mtu: 1_200, frameMs: 1000 / 60, maxPackets: 20, keyframeEvery: 120, startKey: true, fecRatio: 0.2, fecAfterBlock: false,
  loss: 0, burst: 0, burstLength: 1, outage: 0, reorder: 0, reorderMs: 0, duplicate: 0, oneWayMs: 10, rttKnownAt: 200, answerDelayMs: 0,
  stall: 0, jumps: [], pacingMs: 0.1,
};

const LINKS: LinkScenario[] = [
  { ...plain, name: 'in order, no loss', seed: 1, codec: 'h264' },
  { ...plain, name: 'in order, large frames in several FEC blocks, HEVC', seed: 2, codec: 'hevc', maxPackets: 60, mtu: 600, fecAfterBlock: true },
  { ...plain, name: '1% loss, FEC after each block', seed: 3, codec: 'h264', loss: 0.01, fecAfterBlock: true, maxPackets: 60 },
  { ...plain, name: '5% loss and reordering within frames', seed: 4, codec: 'h264', loss: 0.05, reorder: 0.05, reorderMs: 1.5, duplicate: 0.02 },
  { ...plain, name: '10% loss, reordering across frames, duplicates, HEVC', seed: 5, codec: 'hevc', loss: 0.1, reorder: 0.1, reorderMs: 25, duplicate: 0.05, maxPackets: 40 },
  { ...plain, name: '20% loss, no FEC, round trip never measured', seed: 6, codec: 'h264', loss: 0.2, fecRatio: 0, rttKnownAt: null, keyframeEvery: 40 },
  { ...plain, name: 'bursts and outages, a slow sender, stalls', seed: 7, codec: 'h264', loss: 0.02, burst: 0.01, burstLength: 8, outage: 0.01, answerDelayMs: 30, stall: 0.2, oneWayMs: 25 },
  { ...plain, name: 'bursts at 30 fps on a far link, HEVC, joined without a keyframe', seed: 8, codec: 'hevc', frameMs: 1000 / 30, loss: 0.03, burst: 0.02, burstLength: 20, oneWayMs: 60, startKey: false, keyframeEvery: 90, rttKnownAt: 1_000 },
  { ...plain, name: 'sequence jumps (new streams) and wraps, 15% loss', seed: 9, codec: 'h264', loss: 0.15, jumps: [30, 31, 90, 200], maxPackets: 30, reorder: 0.03, reorderMs: 10 },
  { ...plain, name: 'near link, heavy stalls, small packets, HEVC', seed: 10, codec: 'hevc', oneWayMs: 1, mtu: 300, maxPackets: 60, loss: 0.04, stall: 0.4, reorder: 0.05, reorderMs: 4 },
  { ...plain, name: 'everything at once', seed: 11, codec: 'h264', steps: 8_000, loss: 0.08, burst: 0.005, burstLength: 15, outage: 0.005, reorder: 0.08, reorderMs: 20, duplicate: 0.05, answerDelayMs: 15, stall: 0.1, jumps: [150], maxPackets: 60, mtu: 700, fecAfterBlock: true, rttKnownAt: 500 },
  { ...plain, name: 'whole ms: bounds met exactly', seed: 13, codec: 'h264', wholeMs: true, loss: 0.05, burst: 0.01, burstLength: 6, outage: 0.01, reorder: 0.05, reorderMs: 6, duplicate: 0.02, stall: 0.2, answerDelayMs: 10, oneWayMs: 4, frameMs: 25 },
  { ...plain, name: 'whole ms at 5 fps (frames 200 ms apart), HEVC', seed: 14, codec: 'hevc', wholeMs: true, frameMs: 200, loss: 0.1, outage: 0.02, stall: 0.3, oneWayMs: 60, steps: 3_000, rttKnownAt: 2_000 },
  { ...plain, name: 'everything at once, HEVC, no FEC', seed: 12, codec: 'hevc', steps: 8_000, loss: 0.06, burst: 0.01, burstLength: 5, reorder: 0.1, reorderMs: 8, duplicate: 0.1, answerDelayMs: 40, stall: 0.15, jumps: [100], fecRatio: 0, oneWayMs: 3 },
];

describe.skipIf(!libraryPath)('the native frame assembler against frame-assembler.ts', () => {
  const lib = libraryPath ? bind(libraryPath) : (null as unknown as Library);

  it('answers alike over simulated streams and links (loss, bursts, reordering, duplicates, NACK resends, PLI, stalls, jumps, wraps)', () => {
    const totals: RunTotals[] = [];
    for (const scenario of LINKS) totals.push(runLink(lib, scenario));
    const sum = (name: keyof RunTotals) => totals.reduce((all, t) => all + t[name], 0);
    console.log(`assembler.test.ts: ${sum('steps')} calls compared over ${LINKS.length} links; ${sum('framesDelivered')} frames delivered, ${sum('framesLost')} lost, ${sum('framesSkipped')} skipped, ${sum('fecRecovered')} packets rebuilt by FEC, ${sum('nackRecovered')} by NACK, ${sum('keyframeRequests')} PLIs`);
    // every frame handed on is the one sent, and each scenario reaches what it is meant to
    expect(sum('framesMatched')).toBe(sum('framesDelivered'));
    expect(totals[0]!.framesLost).toBe(0);
    expect(totals[0]!.framesDelivered).toBeGreaterThan(200);
    for (const name of ['framesLost', 'framesSkipped', 'fecRecovered', 'nackRecovered', 'nacksSent', 'keyframeRequests', 'cleanCount'] as const) expect(sum(name)).toBeGreaterThan(0);
  });

  it('answers alike to a hostile sender (random sequences, timestamps, FEC and payloads)', () => {
    let steps = 0;
    for (const [codec, seed] of [['h264', 101], ['hevc', 102], ['h264', 103]] as const) {
      const counters = runHostile(lib, codec, seed, 5_000);
      steps += 5_000;
      expect(counters.framesLost).toBeGreaterThan(0);
    }
    console.log(`assembler.test.ts: ${steps} hostile calls compared`);
  });

  it('copes with a sequence starting anywhere: every 16-bit start, a few frames each', () => {
    // the extender's first number and its wrap, by the same calls in both
    for (let start = 0; start < 65_536; start += 4_099) {
      const pair = new Pair(lib, 'h264', `start ${start}`);
      let seq = start;
      for (let frame = 0; frame < 4; frame += 1) {
        const packets = framePackets('h264', [nal('h264', frame === 0 ? 5 : 1, 3_000, prng(start + frame))], seq, frame * 1500);
        for (const packet of packets) pair.packet(packet, frame * 16);
        seq += packets.filter((p) => p.kind === 'media').length;
      }
      expect(pair.native.counters().framesDelivered).toBe(4);
      pair.close();
    }
  });

  // ---- each bound met exactly, and missed by a little: scripted ----

  /** A frame's media (one tiny NAL unit a packet) from firstSeq, and each block's FEC with `parity` packets. */
  const scripted = (firstSeq: number, timestamp: number, count: number, keyframe: boolean, parity = 1) => {
    const payloads = Array.from({ length: count }, (_, i) => nal('h264', keyframe && i === 0 ? 5 : 1, 3, prng(firstSeq + i)));
    const media = payloads.map((payload, i) => ({ kind: 'media' as const, seq: (firstSeq + i) & 0xffff, timestamp, marker: i === count - 1, payload }));
    const blocks = blocksForFrame(count).map((block, index, all) =>
      buildFecPayloads({ baseSeq: (firstSeq + block.start) & 0xffff, payloads: payloads.slice(block.start, block.start + block.k), endsFrame: index === all.length - 1, startsFrame: index === 0 }, parity).map((payload) => ({ kind: 'fec' as const, timestamp, payload })),
    );
    return { media, blocks, fec: blocks.flat() };
  };
  const feed = (pair: Pair, packets: Packet[], now: number) => packets.map((packet) => pair.packet(packet, now));

  it('clears the NACKed sequence numbers it remembers past 4096 of them, not at 4096', () => {
    for (const lastMissing of [2, 3]) {
      const pair = new Pair(lib, 'h264', `asked map, ${lastMissing} missing last`);
      pair.setRtt(10);
      let seq = 1_000;
      let t = 0;
      // 89 frames with 46 of their 48 packets never coming (4094 asked for), then one with 2 or 3
      const sizes = [...Array<number>(89).fill(48), lastMissing + 2];
      sizes.forEach((size, i) => {
        const frame = scripted(seq, i * 1800, size, i === 0);
        feed(pair, [frame.media[0]!, frame.media.at(-1)!, ...(i === 0 ? frame.fec : [])], t);
        expect(pair.poll(t + 3, true).nack).toHaveLength(size - 2);
        if (i < sizes.length - 1) pair.poll(t + 40, true);
        else pair.packet(frame.media[1]!, t + 5); // a resend: counted only while it is remembered
        seq += size;
        t += 45;
      });
      expect(pair.ts.counters.nackRecovered).toBe(lastMissing === 2 ? 1 : 0);
      pair.close();
    }
  });

  it('keeps 4096 packets of a frame, hands on one of 4097 whose last its FEC rebuilds, and never one of 4098', () => {
    const pair = new Pair(lib, 'h264', 'packets per frame');
    const key = scripted(100, 0, 3, true);
    feed(pair, [...key.media, ...key.fec], 0);
    // 4097 packets: the first 4096 arrive, the last is rebuilt from its block (the range spans 4097)
    const whole = scripted(103, 1800, 4097, false);
    feed(pair, [...whole.media.slice(0, 4096), ...whole.blocks.at(-1)!], 10);
    expect(pair.ts.counters.framesDelivered).toBe(2);
    // 4098: the 4097th packet is not kept (4096 are), two are rebuilt, and the range is too long to hand on
    const over = scripted(103 + 4097, 3600, 4098, false, 2);
    feed(pair, [...over.media.slice(0, 4097), ...over.blocks.at(-1)!], 20);
    pair.poll(1_000, true);
    expect(pair.ts.counters).toMatchObject({ framesDelivered: 2, framesLost: 1, fecRecovered: 3 });
    pair.close();
  });

  it('takes a jump of 2000 as loss and one of 2001 as a new stream', () => {
    const pair = new Pair(lib, 'h264', 'sequence jump');
    const key = scripted(100, 0, 3, true);
    feed(pair, [...key.media, ...key.fec], 0);
    pair.packet(scripted(103, 1800, 2, false).media[0]!, 1); // a frame left pending
    pair.packet(scripted(104 + 1999, 3600, 2, false).media[0]!, 2); // 2000 past the highest
    expect(pair.ts.counters.framesLost).toBe(0);
    pair.packet(scripted(104 + 1999 + 2001, 5400, 2, false).media[0]!, 3);
    expect(pair.ts.counters.framesLost).toBe(2);
    pair.close();
  });

  it('keeps 64 FEC blocks of a frame, not 65', () => {
    const pair = new Pair(lib, 'h264', 'blocks per frame');
    const key = scripted(100, 0, 3, true);
    feed(pair, [...key.media, ...key.fec], 0);
    // 66 blocks of one packet each; the 64th packet is lost (its block is kept), then the 65th (its block is not)
    for (const [frame, lost] of [[1, 63], [2, 64]] as const) {
      const firstSeq = 103 + (frame - 1) * 66;
      const payloads = Array.from({ length: 66 }, (_, i) => nal('h264', 1, 3, prng(firstSeq + i)));
      const fec = payloads.map((payload, i) => ({ kind: 'fec' as const, timestamp: frame * 1800, payload: buildFecPayloads({ baseSeq: (firstSeq + i) & 0xffff, payloads: [payload], endsFrame: i === 65, startsFrame: i === 0 }, 1)[0]! }));
      const media = payloads.map((payload, i) => ({ kind: 'media' as const, seq: firstSeq + i, timestamp: frame * 1800, marker: i === 65, payload }));
      feed(pair, [...fec, ...media.filter((_, i) => i !== lost)], frame * 10);
      pair.poll(frame * 10 + 200, true);
    }
    expect(pair.ts.counters).toMatchObject({ framesDelivered: 2, framesLost: 1, fecRecovered: 128 }); // the blocks kept rebuild their packet before it comes
    pair.close();
  });

  it('keeps a block\'s first header (FEC that disagrees is ignored) and the newest copy of each parity packet', () => {
    const pair = new Pair(lib, 'h264', 'FEC headers');
    const key = scripted(100, 0, 3, true);
    feed(pair, [...key.media, ...key.fec], 0);
    // a frame without a marker: only its FEC says where it ends, and the FEC that says so disagrees with the block
    const payloads = [nal('h264', 1, 10, prng(1)), nal('h264', 1, 10, prng(2)), nal('h264', 1, 10, prng(3))];
    const block = (changed: Uint8Array[], m: number, endsFrame: boolean) => buildFecPayloads({ baseSeq: 103, payloads: changed, endsFrame, startsFrame: true }, m);
    feed(pair, payloads.map((payload, i) => ({ kind: 'media', seq: 103 + i, timestamp: 1800, marker: false, payload })), 10);
    const longer = payloads.map((payload) => Buffer.concat([payload, Buffer.from([1])]));
    const disagreeing = [block(longer, 2, true)[1]!, block(payloads, 3, true)[1]!, block(payloads.slice(0, 2), 2, true)[1]!];
    feed(pair, [block(payloads, 2, false)[0]!, ...disagreeing].map((payload) => ({ kind: 'fec', timestamp: 1800, payload })), 11);
    pair.poll(200, true);
    expect(pair.ts.counters.framesDelivered).toBe(1);
    // a parity packet sent again with other contents replaces the first: the packet rebuilt is the true one
    const good = scripted(106, 3600, 2, true); // a keyframe: the frame before was given up
    const wrong = buildFecPayloads({ baseSeq: 106, payloads: [nal('h264', 1, 3, prng(9)), nal('h264', 1, 3, prng(10))], endsFrame: true, startsFrame: true }, 1);
    feed(pair, [{ kind: 'fec', timestamp: 3600, payload: wrong[0]! }, ...good.fec, good.media[0]!], 300);
    expect(pair.ts.counters).toMatchObject({ framesDelivered: 2, fecRecovered: 1 });
    pair.close();
  });

  it('meets each time bound as the TypeScript does: at it, just before and just after', () => {
    const runs = (name: string, run: (pair: Pair, d: number) => void) => {
      for (const d of [-1, -0.5, 0, 0.5, 1]) {
        const pair = new Pair(lib, 'h264', `${name}, ${d} ms off`);
        run(pair, d);
        pair.close();
      }
    };
    const keyframeAt = (pair: Pair, now: number) => {
      const key = scripted(100, 0, 3, true);
      feed(pair, [...key.media, ...key.fec], now);
    };
    // 50 ms without a packet: the link came back (a keyframe request again)
    runs('link silence', (pair, d) => {
      keyframeAt(pair, 0);
      const frame = scripted(103, 1800, 3, false);
      feed(pair, [frame.media[0]!, frame.media[2]!], 10);
      pair.poll(120, true); // given up: the picture breaks
      const next = scripted(106, 3600, 3, false);
      pair.packet(next.media[0]!, 121);
      const pli = pair.packet(next.media[1]!, 171 + d).pli;
      expect(pli).toBe(d >= 0);
    });
    // a keyframe request at most every 20 ms as the picture breaks
    runs('keyframe requests 20 ms apart', (pair, d) => {
      const joined = scripted(100, 0, 3, false);
      feed(pair, [...joined.media, ...joined.fec], 0); // skipped, asks for a keyframe at 0
      const key = scripted(103, 1800, 3, true);
      feed(pair, [...key.media, ...key.fec], 5);
      const pli = pair.packet(scripted(106 + 2500, 3600, 3, false).media[0]!, 20 + d).pli; // a new stream breaks the picture
      expect(pli).toBe(d >= 0);
    });
    // a loss burst over 1000 ms before the picture breaks is not the one it recovers from
    runs('burst end 1000 ms before', (pair, d) => {
      pair.setRtt(10);
      keyframeAt(pair, 0);
      const frame = scripted(103, 1800, 4, false);
      feed(pair, [frame.media[2]!, frame.media[3]!], 10); // a gap: a loss burst ends at 10
      for (let t = 10; t <= 975 + d; t += 20) feed(pair, [frame.media[3]!, ...frame.fec], Math.min(t, 975 + d));
      pair.packet(frame.fec[0]!, 975 + d);
      pair.poll(1_010 + d, true); // due: given up, the picture breaks
      const key = scripted(107, 3600, 3, true);
      feed(pair, [...key.media, ...key.fec], 1_015);
      expect(pair.ts.counters.cleanPictureMs).toEqual([d > 0 ? 1_015 - (1_010 + d) : 1_005]);
    });
    // a resend asked for only where it can come before the frame is due
    runs('asking in time', (pair, d) => {
      pair.setRtt(10); // due 35 ms after its last packet, a resend takes 15
      keyframeAt(pair, 0);
      const frame = scripted(103, 1800, 4, false);
      feed(pair, [frame.media[0]!, frame.media[2]!, frame.media[3]!], 1);
      const asked = pair.poll(21 + d, true).nack;
      expect(asked.length).toBe(d <= 0 ? 1 : 0);
    });
    // the frames missing before one are asked for until they are due
    runs('a frame lost whole', (pair, d) => {
      pair.setRtt(10);
      keyframeAt(pair, 0);
      const next = scripted(107, 1800, 3, false); // the frame at 900 (103..106) never comes
      feed(pair, [...next.media, ...next.fec], 10); // due at 10 - 20 + 35 = 25: asked at once
      pair.poll(25 + d, true);
      expect(pair.ts.counters.framesLost).toBe(d < 0 ? 0 : 1);
    });
    // frames 200 ms apart do not set the frame interval (199 do): how old a frame lost whole is
    for (const apartMs of [199, 200]) {
      const pair = new Pair(lib, 'h264', `frames ${apartMs} ms apart`);
      pair.setRtt(60); // a budget of 150 ms
      keyframeAt(pair, 0);
      const second = scripted(103, apartMs * 90, 3, false);
      feed(pair, [...second.media, ...second.fec], apartMs);
      const fourth = scripted(109, 3 * apartMs * 90, 3, false); // the third (106..108) never comes
      feed(pair, [...fourth.media, ...fourth.fec], 3 * apartMs);
      pair.stalled(150);
      const nack = pair.poll(3 * apartMs, true).nack;
      expect(nack.length).toBe(apartMs === 199 ? 3 : 0);
      pair.close();
    }
  });

  it('holds at most 64 MiB of payloads (a departure from the TypeScript): past it the oldest frame is given up', () => {
    const native = new NativeAssembler(lib, 'h264');
    const big = nal('h264', 1, 60_000, prng(7));
    // frames that never end, each of 200 packets of 60 kB: 12 MB each
    for (let frame = 0; frame < 10; frame += 1) {
      for (let i = 0; i < 200; i += 1) native.media({ seq: (frame * 200 + i) & 0xffff, timestamp: frame * 1500, marker: false, payload: big }, frame * 5 + i * 0.01);
    }
    // 120 MB in 10 frames: the first ones are given up as the later come in, at most five are held
    expect(native.counters().framesLost).toBeGreaterThanOrEqual(5);
    // the stream goes on: a keyframe after them (a new stream) comes out
    const answers = framePackets('h264', [nal('h264', 5, 2_000, prng(8))], 9_000, 90_000).map((packet) => (packet.kind === 'media' ? native.media(packet, 100) : native.fec(packet, 100)));
    expect(answers.flatMap((a) => a.frames).map((f) => f.keyframe)).toEqual([true]);
    native.close();
  });
});
