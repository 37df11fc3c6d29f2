import { depacketize, type RtpVideoCodec } from './depacketize';
import { parseFecPayload, recoverBlock, type FecHeader } from './fec';
import { SeqExtender } from './seq';

/** A whole frame, in decode order, ready for the decoder. */
export interface AssembledFrame {
  timestamp: number;
  /** Annex B access unit. */
  data: Buffer;
  keyframe: boolean;
  /** When its first packet arrived (ms, the assembler's clock). */
  firstArrival: number;
}

/** What the owner must do after feeding packets or time in. */
export interface AssemblerActions {
  frames: AssembledFrame[];
  /** 16-bit media sequence numbers to ask the sender for again. */
  nack: number[];
  /** Ask the sender for a keyframe now. */
  pli: boolean;
  /** Call `poll` again at this time (ms), if not null. */
  wakeAt: number | null;
}

/** Running totals; the owner turns them into per-second figures. */
export interface AssemblerCounters {
  framesDelivered: number;
  /** Frames given up (not repaired in time) or undecodable. */
  framesLost: number;
  /** Complete frames not handed on because the picture was broken and they were not a keyframe. */
  framesSkipped: number;
  fecRecovered: number;
  nackRecovered: number;
  nacksSent: number;
  keyframeRequests: number;
  /** Time from the end of the last loss burst to the next clean picture, for each recovery (ms). */
  cleanPictureMs: number[];
}

interface Block {
  header: FecHeader;
  parity: Map<number, Uint8Array>;
}

interface PendingFrame {
  timestamp: number;
  first: number | null;
  last: number | null;
  packets: Map<number, Buffer>;
  blocks: Map<number, Block>;
  minSeq: number;
  maxSeq: number;
  firstArrival: number;
  lastArrival: number;
  /**
   * When its newest original packet (a sequence number past all before, or FEC) came: a frame spread
   * out by the sender's pacing or a narrow link is still arriving, not late, and its repair budget
   * counts from here.
   */
  arrivedBy: number;
  /** Time the receiver was not running while it was pending (see `stalled`), added to its repair budget. */
  stalledMs: number;
  /** For the trace: parity packets received, when it was first asked for, when its resends came. */
  parity: number;
  firstNackAt: number | null;
  resendsAt: number[];
}

/** One decision about a frame (or a run of frames never seen), for GPU_BRIDGE_RTP_TRACE. */
export interface FrameDecision {
  /** When it was decided (ms, the assembler's clock). */
  at: number;
  outcome: 'delivered' | 'skipped' | 'undecodable' | 'given-up' | 'gap-given-up' | 'dropped';
  /** RTP timestamp; for a gap, that of the frame after it. */
  timestamp: number;
  /** Extended sequence range as known (first..last), null where unknown. */
  first: number | null;
  last: number | null;
  /** Media packets held (arrived or rebuilt), and FEC parity packets received. */
  media: number;
  parity: number;
  /** For a gap: the packets between the last frame settled and this one, never seen. */
  gapPackets?: number;
  firstArrival: number;
  due: number;
  nackedAt: number | null;
  resendsAt: number[];
  rttMs: number | null;
  why?: string;
}

export interface AssemblerOptions {
  codec: RtpVideoCodec;
  /** The round trip of the media path as last measured (ms), null before the first measurement. */
  rttMs: () => number | null;
  /** Called with every frame decision (the receiver's GPU_BRIDGE_RTP_TRACE). */
  trace?: (decision: FrameDecision) => void;
}

/** Frames in flight at once; beyond that the oldest is given up (bounded memory). */
const MAX_FRAMES = 48;
const MAX_PACKETS_PER_FRAME = 4096;
/** Packets of one frame come in one burst: after its last arrival this long, a hole is a loss. */
const REORDER_WAIT_MS = 3;
/** A look this late (ms) means the receiver was not running; less is a timer's usual lateness. */
const STALL_MIN_MS = 4;
/** A jump this far ahead is a new stream, not loss. */
const MAX_SEQ_JUMP = 2000;
/** Silence before a packet that makes it the end of a loss burst (the link came back). */
const LINK_SILENCE_MS = 50;
/** More packets missing than this is an outage, not loss: a keyframe is faster than asking for them all. */
const MAX_NACK_PACKETS = 48;

/**
 * How long a frame may wait for its repair, from its last new packet: long enough for one or two NACK
 * round trips on a near link, never more than 150 ms (past that a keyframe is the faster cure).
 */
export function repairBudgetMs(rttMs: number | null): number {
  const rtt = rttMs ?? 40;
  return Math.max(25, Math.min(150, 2.5 * rtt + 10));
}

/**
 * The receiver's frame logic, with time passed in (so it can be tested without waiting): groups RTP
 * packets into frames, rebuilds lost packets from the frame's FEC, asks for the rest (NACK) only
 * when the repair can arrive before the frame is due, and otherwise gives the frame up, asks for a
 * keyframe (PLI) and hands nothing on until a clean picture (a keyframe) arrives. Complete frames
 * go out at once, in order: no jitter buffer beyond reordering within a frame.
 */
export class FrameAssembler {
  readonly counters: AssemblerCounters = {
    framesDelivered: 0, framesLost: 0, framesSkipped: 0, fecRecovered: 0, nackRecovered: 0, nacksSent: 0, keyframeRequests: 0, cleanPictureMs: [],
  };
  private readonly seqs = new SeqExtender();
  private frames: PendingFrame[] = [];
  /** Ext seq of the first packet after the last frame handed on or given up. */
  private nextExpected: number | null = null;
  /** The picture is broken (or not started): only a keyframe may go to the decoder. */
  private broken = true;
  private started = false;
  private burstEndAt: number | null = null;
  private lastArrival: number | null = null;
  /** RTP timestamp of the last frame handed on or given up, and whether it was handed on. */
  private settled: { timestamp: number; handedOn: boolean } | null = null;
  /** Between consecutive frames (ms, from their timestamps, smoothed); null before two. */
  private frameIntervalMs: number | null = null;
  private lastPliAt = -Infinity;
  private pendingPli = false;
  /** Ext seq → when it was last asked for (NACK), until it arrives. */
  private readonly asked = new Map<number, number>();

  constructor(private readonly options: AssemblerOptions) {}

  /** A media packet (authenticated), at time `now`. */
  media(packet: { seq: number; timestamp: number; marker: boolean; payload: Buffer }, now: number): AssemblerActions {
    const before = this.seqs.max;
    const seq = this.seqs.extend(packet.seq);
    this.noteArrival(seq, before, now);
    if (this.nextExpected !== null && seq < this.nextExpected) return this.poll(now, false); // late copy of a frame already handled
    const resent = this.asked.delete(seq);
    if (resent) this.counters.nackRecovered += 1;
    const frame = this.frameFor(packet.timestamp, seq, now);
    if (frame && resent) frame.resendsAt.push(now);
    if (frame && frame.packets.size < MAX_PACKETS_PER_FRAME && !frame.packets.has(seq)) {
      if (!resent && seq > frame.maxSeq) frame.arrivedBy = now;
      frame.packets.set(seq, packet.payload);
      if (packet.marker) frame.last = seq;
      frame.minSeq = Math.min(frame.minSeq, seq);
      frame.maxSeq = Math.max(frame.maxSeq, seq);
    }
    return this.poll(now, false);
  }

  /** An FEC packet's payload (authenticated) for the frame with this RTP timestamp. */
  fec(packet: { timestamp: number; payload: Uint8Array }, now: number): AssemblerActions {
    const parsed = parseFecPayload(packet.payload);
    if (!parsed || this.seqs.max === null) return this.poll(now, false);
    const base = this.seqs.peek(parsed.header.baseSeq)!;
    if (this.nextExpected !== null && base < this.nextExpected) return this.poll(now, false);
    const frame = this.frameFor(packet.timestamp, base, now);
    if (!frame) return this.poll(now, false);
    let block = frame.blocks.get(base);
    if (!block) {
      if (frame.blocks.size >= 64) return this.poll(now, false);
      block = { header: parsed.header, parity: new Map() };
      frame.blocks.set(base, block);
    }
    if (block.header.k !== parsed.header.k || block.header.m !== parsed.header.m || block.header.shardLength !== parsed.header.shardLength) return this.poll(now, false);
    if (!block.parity.has(parsed.header.index)) frame.parity += 1;
    block.parity.set(parsed.header.index, parsed.shard);
    if (parsed.header.endsFrame) frame.last = base + parsed.header.k - 1;
    if (parsed.header.startsFrame) frame.first = base;
    frame.lastArrival = now;
    frame.arrivedBy = now;
    return this.poll(now, false);
  }

  private noteArrival(seq: number, before: number | null, now: number): void {
    const silent = this.lastArrival !== null && now - this.lastArrival >= LINK_SILENCE_MS;
    const gap = before !== null && seq > before + 1;
    if (silent || gap) {
      this.burstEndAt = now;
      // the keyframe request made while the link was down was most likely lost with it
      if (silent && this.broken && this.started) this.pendingPli = true;
    }
    if (before !== null && seq > before + MAX_SEQ_JUMP) this.discontinuity(now);
    this.lastArrival = now;
  }

  /** Everything pending is dropped (a jump in the sequence: a new stream or a long outage). */
  private discontinuity(now: number): void {
    this.counters.framesLost += this.frames.length;
    for (const frame of this.frames) this.trace(frame, now, 'dropped', 'a jump in the sequence: a new stream or a long outage');
    this.frames = [];
    this.nextExpected = null;
    this.breakPicture(now);
  }

  private frameFor(timestamp: number, seq: number, now: number): PendingFrame | null {
    let frame = this.frames.find((f) => f.timestamp === timestamp);
    if (frame) {
      frame.lastArrival = now;
      return frame;
    }
    frame = { timestamp, first: null, last: null, packets: new Map(), blocks: new Map(), minSeq: seq, maxSeq: seq, firstArrival: now, lastArrival: now, arrivedBy: now, stalledMs: 0, parity: 0, firstNackAt: null, resendsAt: [] };
    this.frames.push(frame);
    this.frames.sort((a, b) => a.minSeq - b.minSeq);
    while (this.frames.length > MAX_FRAMES) this.giveUp(this.frames[0]!, now, 'too many frames in flight');
    return frame;
  }

  /**
   * The receiver's look came `ms` late: it was not running (a starved process, a long pause), and could
   * neither see the holes nor ask for them meanwhile. Each frame pending then has its repair budget
   * lengthened by as much (up to one budget more), so that a hole it could not see is still asked for once:
   * on a near link a resend takes a round trip, where giving the frame up costs a keyframe. A timer's usual
   * lateness (under STALL_MIN_MS) is not counted.
   */
  stalled(ms: number): void {
    if (!(ms >= STALL_MIN_MS)) return;
    const budget = repairBudgetMs(this.options.rttMs());
    for (const frame of this.frames) frame.stalledMs = Math.min(budget, frame.stalledMs + ms);
  }

  /**
   * Decides what can go on now, and what to ask for. A frame is given up only where `mayGiveUp`: the
   * receiver's own look once the socket is drained. Called for one datagram, with others perhaps queued
   * behind it after a stall (the resend that completes the frame among them), it hands on and asks, and
   * asks to look again at once instead of giving up.
   */
  poll(now: number, mayGiveUp = true): AssemblerActions {
    const actions: AssemblerActions = { frames: [], nack: [], pli: false, wakeAt: null };
    while (this.frames.length > 0) {
      const head = this.frames[0]!;
      const gap = this.gapBefore(head, now, actions, mayGiveUp);
      if (gap === 'given-up') continue;
      if (gap === 'later') {
        actions.wakeAt = now;
        break;
      }
      if (gap !== 'none') {
        // a frame between the last one handed on and this one is on its way again: this one waits
        actions.wakeAt = gap;
        break;
      }
      let range = this.range(head);
      let missing = range ? this.missing(head, range) : null;
      // FEC is tried only for a frame with a hole or an unknown end (in-order arrival never needs it)
      if ((!range || missing!.length > 0 || head.last === null) && this.recover(head)) {
        range = this.range(head);
        missing = range ? this.missing(head, range) : null;
      }
      if (range && missing!.length === 0 && head.last !== null) {
        this.frames.shift();
        this.nextExpected = range.hi + 1;
        this.handOn(head, now, actions);
        continue;
      }
      const due = head.arrivedBy + head.stalledMs + repairBudgetMs(this.options.rttMs());
      if (now >= due && !mayGiveUp) {
        actions.wakeAt = now;
        break;
      }
      if (now >= due) {
        this.giveUp(head, now, 'due, not repaired');
        continue;
      }
      const later = this.frames.length > 1;
      const holeSure = later || now >= head.lastArrival + REORDER_WAIT_MS;
      let wakeAt = holeSure ? due : Math.min(due, head.lastArrival + REORDER_WAIT_MS);
      if (holeSure && missing && missing.length > 0) {
        // an outage's worth is not worth asking for: a keyframe is faster
        const asked = missing.length <= MAX_NACK_PACKETS ? this.requestRepair(head, missing, now, due, actions) : 'late';
        if (asked === 'late') {
          if (!mayGiveUp) {
            actions.wakeAt = now;
            break;
          }
          this.giveUp(head, now, missing.length > MAX_NACK_PACKETS ? `${missing.length} packets missing: an outage` : 'a resend cannot arrive before it is due');
          continue;
        }
        wakeAt = Math.min(wakeAt, asked);
      }
      actions.wakeAt = wakeAt;
      break;
    }
    if (this.asked.size > 4096) this.asked.clear();
    if (this.pendingPli) {
      this.pendingPli = false;
      this.lastPliAt = now;
      this.counters.keyframeRequests += 1;
      actions.pli = true;
    } else if (this.broken && this.started && now - this.lastPliAt >= this.pliRepeatMs()) {
      this.lastPliAt = now;
      this.counters.keyframeRequests += 1;
      actions.pli = true;
    }
    if (this.broken && this.started) {
      const repeatAt = this.lastPliAt + this.pliRepeatMs();
      actions.wakeAt = actions.wakeAt === null ? repeatAt : Math.min(actions.wakeAt, repeatAt);
    }
    if (actions.nack.length > 0) this.counters.nacksSent += actions.nack.length;
    return actions;
  }

  /**
   * Packets between the last frame settled and this one's first (known from its FEC) belong to frames
   * that never arrived: ask for them like any hole while they can still help; past that (an outage's
   * worth, or too old to be repaired in time) they are lost, and so is the picture.
   */
  private gapBefore(head: PendingFrame, now: number, actions: AssemblerActions, mayGiveUp: boolean): 'none' | 'given-up' | 'later' | number {
    if (head.first === null || this.nextExpected === null || head.first <= this.nextExpected) return 'none';
    const gap = head.first - this.nextExpected;
    const due = this.gapArrival(head) + head.stalledMs + repairBudgetMs(this.options.rttMs());
    if (gap <= MAX_NACK_PACKETS && now < due) {
      const seqs = Array.from({ length: gap }, (_, i) => this.nextExpected! + i);
      const asked = this.requestRepair(head, seqs, now, due, actions);
      if (asked !== 'late') return asked;
    }
    if (!mayGiveUp) return 'later';
    const why = gap > MAX_NACK_PACKETS ? `${gap} packets missing: an outage` : `the frames missing before it are too old to repair (due ${Math.round(due - head.firstArrival)} ms after this one's first packet)`;
    this.trace(head, now, 'gap-given-up', why, gap);
    this.counters.framesLost += 1;
    this.nextExpected = head.first;
    this.settled = null;
    this.breakPicture(now);
    return 'given-up';
  }

  /**
   * When the oldest frame missing before this one would have arrived: about one frame interval after
   * the last frame settled, by their timestamps. A frame lost whole is repaired as the frame it is; after
   * an outage, the frames missing are as old as the outage is long, and a keyframe is the cure.
   */
  private gapArrival(head: PendingFrame): number {
    if (!this.settled) return -Infinity;
    const spanMs = ((head.timestamp - this.settled.timestamp) >>> 0) / 90;
    return head.firstArrival - Math.max(0, spanMs - (this.frameIntervalMs ?? 0));
  }

  private settle(frame: PendingFrame, handedOn: boolean): void {
    const previous = this.settled;
    this.settled = { timestamp: frame.timestamp, handedOn };
    if (!handedOn || !previous?.handedOn) return;
    const intervalMs = ((frame.timestamp - previous.timestamp) >>> 0) / 90;
    if (intervalMs > 0 && intervalMs < 200) this.frameIntervalMs = this.frameIntervalMs === null ? intervalMs : 0.9 * this.frameIntervalMs + 0.1 * intervalMs;
  }

  /**
   * Asks (again) for the packets whose resend is not already on its way; 'late' when one was never asked
   * for and its resend could not arrive before `due`, else when to look again. A request made in time is
   * waited for (1.5 RTT), and past that, where asking again could no longer arrive in time, until the
   * frame is due: its resend may still come (a sender that was slow to answer, a resend held up on the
   * path). Before the round trip is measured, until the frame is due (a guessed RTT shorter than the
   * link's would give up resends still on their way).
   */
  private requestRepair(frame: PendingFrame, seqs: number[], now: number, due: number, actions: AssemblerActions): number | 'late' {
    const measured = this.options.rttMs();
    const rtt = measured ?? 40;
    const retryMs = measured === null ? Infinity : Math.max(5, rtt * 1.5 + 5);
    const ask: number[] = [];
    let wakeAt = due;
    for (const seq of seqs) {
      const asked = this.asked.get(seq);
      if (asked !== undefined && now - asked < retryMs) wakeAt = Math.min(wakeAt, asked + retryMs);
      else if (now + rtt + 5 <= due) ask.push(seq);
      else if (asked === undefined) return 'late';
    }
    for (const seq of ask) {
      this.asked.set(seq, now);
      actions.nack.push(seq & 0xffff);
    }
    if (ask.length > 0) {
      frame.firstNackAt ??= now;
      wakeAt = Math.min(wakeAt, now + retryMs);
    }
    return wakeAt;
  }

  /** A keyframe takes the sender an encoder restart and a round trip: ask again only after that. */
  private pliRepeatMs(): number {
    return Math.max(250, 2 * (this.options.rttMs() ?? 40) + 200);
  }

  /** The frame's sequence range where it is known. */
  private range(frame: PendingFrame): { lo: number; hi: number } | null {
    const lo = frame.first ?? this.nextExpected;
    const later = this.frames[1];
    const hi = frame.last ?? (later ? later.minSeq - 1 : frame.maxSeq);
    if (lo === null || hi < lo || hi - lo > MAX_PACKETS_PER_FRAME) return null;
    return { lo, hi };
  }

  private missing(frame: PendingFrame, range: { lo: number; hi: number }): number[] {
    // every packet held lies in the range and there are as many as it spans: no hole, and no scan for one
    if (frame.minSeq >= range.lo && frame.maxSeq <= range.hi && frame.packets.size === range.hi - range.lo + 1) return [];
    const out: number[] = [];
    for (let seq = range.lo; seq <= range.hi && out.length < 512; seq += 1) if (!frame.packets.has(seq)) out.push(seq);
    return out;
  }

  /** Rebuilds what the FEC blocks can; true when it rebuilt anything. */
  private recover(frame: PendingFrame): boolean {
    let rebuilt = false;
    for (const [base, block] of frame.blocks) {
      const { k } = block.header;
      if (block.parity.size === 0) continue;
      const media = new Map<number, Uint8Array>();
      for (let i = 0; i < k; i += 1) {
        const payload = frame.packets.get(base + i);
        if (payload) media.set(i, payload);
      }
      if (media.size === k || media.size + block.parity.size < k) continue;
      const payloads = recoverBlock(block.header, media, block.parity);
      if (!payloads) continue;
      for (let i = 0; i < k; i += 1) {
        if (frame.packets.has(base + i)) continue;
        frame.packets.set(base + i, Buffer.from(payloads[i]!));
        this.asked.delete(base + i);
        this.counters.fecRecovered += 1;
        rebuilt = true;
      }
      frame.minSeq = Math.min(frame.minSeq, base);
      frame.maxSeq = Math.max(frame.maxSeq, base + k - 1);
      if (block.header.endsFrame) frame.last = base + k - 1;
    }
    return rebuilt;
  }

  private handOn(frame: PendingFrame, now: number, actions: AssemblerActions): void {
    this.settle(frame, true);
    const seqs = [...frame.packets.keys()].sort((a, b) => a - b);
    const unit = depacketize(this.options.codec, seqs.map((seq) => frame.packets.get(seq)!));
    this.trace(frame, now, !unit ? 'undecodable' : this.broken && !unit.keyframe ? 'skipped' : 'delivered');
    if (!unit) {
      this.counters.framesLost += 1;
      this.breakPicture(now);
      return;
    }
    if (this.broken && !unit.keyframe) {
      this.counters.framesSkipped += 1;
      if (!this.started) {
        // joined without a keyframe on its way: ask for one
        this.started = true;
        this.pendingPli = true;
      }
      return;
    }
    if (this.broken) {
      if (this.started && this.burstEndAt !== null) this.counters.cleanPictureMs.push(Math.max(0, now - this.burstEndAt));
      this.broken = false;
      this.started = true;
    }
    this.counters.framesDelivered += 1;
    actions.frames.push({ timestamp: frame.timestamp, data: unit.data, keyframe: unit.keyframe, firstArrival: frame.firstArrival });
  }

  private giveUp(frame: PendingFrame, now: number, why: string): void {
    this.trace(frame, now, 'given-up', why);
    const index = this.frames.indexOf(frame);
    if (index >= 0) this.frames.splice(index, 1);
    this.counters.framesLost += 1;
    this.settle(frame, false);
    // where the next frame starts is known only from this one's end (or that frame's own FEC)
    this.nextExpected = frame.last !== null ? frame.last + 1 : null;
    this.breakPicture(now);
  }

  private trace(frame: PendingFrame, now: number, outcome: FrameDecision['outcome'], why?: string, gapPackets?: number): void {
    if (!this.options.trace) return;
    const rttMs = this.options.rttMs();
    this.options.trace({
      at: now, outcome, timestamp: frame.timestamp, first: frame.first, last: frame.last, media: frame.packets.size, parity: frame.parity, gapPackets,
      firstArrival: frame.firstArrival, due: frame.arrivedBy + frame.stalledMs + repairBudgetMs(rttMs), nackedAt: frame.firstNackAt, resendsAt: frame.resendsAt, rttMs, why,
    });
  }

  private breakPicture(now: number): void {
    if (!this.broken) {
      this.broken = true;
      if (this.burstEndAt === null || now - this.burstEndAt > 1000) this.burstEndAt = now;
      if (now - this.lastPliAt >= 20) this.pendingPli = true;
    }
    this.started = true;
  }
}
