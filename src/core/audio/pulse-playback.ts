import { FRAME_MS, OPUS_CHANNELS, OPUS_RATE } from './opus-lib';
import {
  PA_CONTEXT_FAILED,
  PA_CONTEXT_NOAUTOSPAWN,
  PA_CONTEXT_READY,
  PA_CONTEXT_TERMINATED,
  PA_SAMPLE_S16LE,
  PA_SEEK_RELATIVE,
  PA_SEEK_RELATIVE_ON_READ,
  PA_STREAM_ADJUST_LATENCY,
  PA_STREAM_FAILED,
  PA_STREAM_READY,
  PA_STREAM_START_CORKED,
  PA_STREAM_TERMINATED,
  pulseLib,
  type PulseLib,
} from './pulse-lib';

const BYTES_PER_MS = (OPUS_RATE * OPUS_CHANNELS * 2) / 1000;
const CONNECT_TIMEOUT_MS = 3000;
/** The server keeps at most this much (ms) of ours: past it, it drops the oldest (over the highest target and cycle). */
const MAX_LENGTH_MS = 400;
/** How often (ms) the server is asked where its read index stands: for a stream starved unnoticed, and the clock-drift trim. */
const TIMING_EVERY_MS = 250;
/**
 * Reports (at TIMING_EVERY_MS) whose least level is weighed for the clock-drift trim: what the stream holds
 * swings by the server's cycle (it reads a whole quantum at once), so its trough, the least of a couple of
 * seconds of reports, is what says whether more is held than needed.
 */
const TROUGH_REPORTS = 8;
/**
 * The least the target may be over the server's cycle (ms): a cycle reads a whole quantum at once, and sound
 * comes a half frame at a time, so the stream must hold a quantum, a half frame and a little (12 ms at the
 * 256-sample quantum a desktop's server runs at for a stream asking for this little; 28 ms at a forced 1024).
 */
const OVER_CYCLE_MS = FRAME_MS / 2 + 2;
/**
 * Reports whose read index, a whole number of cycles, are taken before the cycle found from them is trusted
 * (8: a common factor of two beyond the cycle in all of them by chance, 1 in 256); the cycle found goes on
 * shrinking to the true one with each report after, and the floor with it.
 */
const CYCLE_REPORTS = 8;
/** A cycle found longer than this (ms) is not believed (reads that are not whole cycles). */
const MAX_CYCLE_MS = 100;
/**
 * An underrun raises the target by this much (ms; a half frame) and by what the server had read past our
 * sound where its report showed that, up to MAX_RAISE_MS over where it began: a server whose cycle is longer
 * than the target (a quantum forced to 1024 or 2048 samples, 21 or 43 ms) reads past everything each cycle,
 * and is heard only once the target is over its cycle.
 */
const RAISE_MS = FRAME_MS / 2;
const MAX_RAISE_MS = 100;
/**
 * A raised target comes down a half frame (one dropped) after this long (ms) with no underrun; an underrun
 * within that long of coming down doubles the wait for the next try (up to MAX_LOWER_AFTER_MS), so an
 * output that needs more room (a server whose cycle is longer than the target) is not probed into a gap every
 * few seconds. An underrun long after the last step down (a stall, not too little room) starts it at 3 s again.
 */
const LOWER_AFTER_MS = 3000;
const MAX_LOWER_AFTER_MS = 60_000;
/**
 * An underrun told or reported this soon (ms) after the stream was placed anew is the one just handled (the
 * server's notice and its report of the same moment come one after the other), not another.
 */
const SAME_UNDERRUN_MS = 30;
/**
 * Reports in a row that show the server read past our sound before that counts as an underrun it did not tell
 * of: a stream starved for good (its cycle longer than the target) shows it in most reports, while a stall's
 * underrun is told by the server itself.
 */
const STARVED_REPORTS = 2;
/** Idle, the connection is still served this often (ms): the server's requests and underflow notices. */
const IDLE_ITERATE_MS = 50;

export interface PulsePlaybackOptions {
  /** `unix:/path` or a host; null: libpulse's own default (PULSE_SERVER, then the user's runtime folder). */
  server: string | null;
  device?: string;
  /** What the stream holds right after each write (ms). */
  targetMs: number;
  name?: string;
  /** Local ms (tests pass their own clock). */
  now?: () => number;
  /** libpulse (tests pass a stand-in that records the calls). */
  lib?: PulseLib;
}

/**
 * One playback stream to a PulseAudio-protocol server (PulseAudio, or PipeWire's pipewire-pulse), written
 * in place rather than through pacat, and locked to the sink's clock: no prebuffering (prebuf 0), so the
 * server's read index runs on through an underrun and sound written late is dropped instead of played late.
 * A queue fed in real time then never settles higher after running dry once (pacat's stream refills to its
 * whole target before it plays again, and stays there); after an underrun the next write is placed the target
 * ahead of where the server reads (PA_SEEK_RELATIVE_ON_READ, led by silence), so what is heard after a stall
 * is as near as before it. Each underrun raises the target a half frame (a machine that stalls often gets the
 * room it needs instead of a gap each time) and 3 s without one lowers it a half frame again, down to where it
 * began (waiting twice as long after a step down that ran dry): what the playout writes ahead (the sink's
 * latencyMs) follows it. The server's reports (four a second) show underruns it did not tell of, and its cycle,
 * over which the target is kept.
 */
export class PulsePlayback {
  underruns = 0;
  /** Half frames dropped: the target coming back down, or the output's clock slower than ours. */
  trimmed = 0;
  /** Why the stream stopped taking sound (the server gone, the stream killed), null while it plays. */
  failed: string | null = null;
  private started = false;
  private resync = false;
  private closed = false;
  private lastTiming = -Infinity;
  private lastReportAt: number | null = null;
  private levelBytes: number | null = null;
  /** The server's cycle as found so far (bytes): the greatest common divisor of its read indexes; 0 before one. */
  private cycleBytes = 0;
  private cycleReports = 0;
  /** The levels of the reports since the target last moved (bytes). */
  private readonly recentLevels: number[] = [];
  /** How far the server's read index had run past our sound at its last report (bytes), to raise the target by. */
  private deficitBytes = 0;
  private starvedReports = 0;
  private targetBytes: number;
  /** Where the target comes back down to: where it started, or over the server's cycle where that is longer. */
  private baseBytes: number;
  /** When the target last moved or the stream last ran dry (local ms). */
  private steadySince = 0;
  private lowerAfterMs = LOWER_AFTER_MS;
  /** When the target last came down (local ms). */
  private loweredAt = -Infinity;
  /** When the stream was last placed anew after an underrun: local ms, and wall-clock ms (the reports' clock). */
  private resyncedAt = -Infinity;
  private resyncedAtWall = -Infinity;
  private readonly idle: NodeJS.Timeout;
  private readonly onUnderflow: unknown;

  private constructor(
    private readonly lib: PulseLib,
    private readonly mainloop: unknown,
    private readonly context: unknown,
    private readonly stream: unknown,
    private readonly startBytes: number,
    private readonly now: () => number,
  ) {
    this.targetBytes = startBytes;
    this.baseBytes = startBytes;
    this.onUnderflow = lib.notifyCallback(() => {
      if (this.now() - this.resyncedAt < SAME_UNDERRUN_MS) return;
      this.underruns += 1;
      this.resync = true;
    });
    lib.streamSetUnderflowCallback(stream, this.onUnderflow, null);
    this.idle = setInterval(() => this.iterate(), IDLE_ITERATE_MS);
    this.idle.unref();
  }

  static async open(options: PulsePlaybackOptions): Promise<PulsePlayback> {
    const lib = options.lib ?? pulseLib();
    const mainloop = lib.mainloopNew();
    if (!mainloop) throw new Error('libpulse: no main loop');
    const context = lib.contextNew(lib.mainloopGetApi(mainloop), 'gpu-bridge');
    let stream: unknown = null;
    const fail = (what: string): Error => new Error(`${what}: ${lib.strerror(lib.contextErrno(context))}`);
    try {
      if (lib.contextConnect(context, options.server, PA_CONTEXT_NOAUTOSPAWN, null) < 0) throw fail('cannot reach the sound server');
      await settle(lib, mainloop, () => {
        const state = lib.contextGetState(context) as number;
        if (state === PA_CONTEXT_FAILED || state === PA_CONTEXT_TERMINATED) throw fail('the sound server refused the connection');
        return state === PA_CONTEXT_READY;
      }, 'the sound server did not answer');
      stream = lib.streamNew(context, options.name ?? 'session audio', { format: PA_SAMPLE_S16LE, rate: OPUS_RATE, channels: OPUS_CHANNELS }, null);
      if (!stream) throw fail('cannot create a playback stream');
      const targetBytes = align(options.targetMs * BYTES_PER_MS);
      const attr = { maxlength: align(MAX_LENGTH_MS * BYTES_PER_MS), tlength: targetBytes, prebuf: 0, minreq: 0xffffffff, fragsize: 0xffffffff };
      if (lib.streamConnectPlayback(stream, options.device ?? null, attr, PA_STREAM_START_CORKED | PA_STREAM_ADJUST_LATENCY, null, null) < 0) throw fail('cannot play to the default output');
      await settle(lib, mainloop, () => {
        const state = lib.streamGetState(stream) as number;
        if (state === PA_STREAM_FAILED || state === PA_STREAM_TERMINATED) throw fail('the playback stream failed');
        return state === PA_STREAM_READY;
      }, 'the playback stream did not start');
      return new PulsePlayback(lib, mainloop, context, stream, targetBytes, options.now ?? (() => performance.now()));
    } catch (error) {
      if (stream) lib.streamUnref(stream);
      lib.contextDisconnect(context);
      lib.contextUnref(context);
      lib.mainloopFree(mainloop);
      throw error;
    }
  }

  /** What the server held of ours at its last report (bytes; four a second), null before one. */
  get queuedBytes(): number | null {
    return this.levelBytes;
  }

  /** What the stream holds right after a write (ms): heard this much (and the server's own path) after it is written. */
  get targetMs(): number {
    return this.targetBytes / BYTES_PER_MS;
  }

  /** Writes a half frame; false where it was dropped instead (the target coming down, or the sink's clock slow). */
  write(pcm: Buffer): boolean {
    if (this.closed || this.failed) return false;
    const now = this.now();
    this.readReport(now);
    const lib = this.lib;
    if (this.resync) {
      this.resync = false;
      this.targetBytes = Math.min(this.baseBytes + align(MAX_RAISE_MS * BYTES_PER_MS), this.targetBytes + align(RAISE_MS * BYTES_PER_MS) + this.deficitBytes);
      this.deficitBytes = 0;
      this.lowerAfterMs = now - this.loweredAt < this.lowerAfterMs ? Math.min(MAX_LOWER_AFTER_MS, this.lowerAfterMs * 2) : LOWER_AFTER_MS;
      this.steadySince = now;
      this.levelBytes = null;
      this.recentLevels.length = 0;
      this.resyncedAt = now;
      this.starvedReports = 0;
      this.resyncedAtWall = performance.timeOrigin + performance.now();
      this.lead(pcm.length, PA_SEEK_RELATIVE_ON_READ);
    } else if (!this.started) {
      this.steadySince = now;
      this.lead(pcm.length, PA_SEEK_RELATIVE);
    } else if (this.targetBytes > this.baseBytes && now - this.steadySince >= this.lowerAfterMs) {
      this.targetBytes = Math.max(this.baseBytes, this.targetBytes - pcm.length);
      this.steadySince = now;
      this.loweredAt = now;
      return this.trim();
    } else if (this.recentLevels.length >= TROUGH_REPORTS && Math.min(...this.recentLevels) > this.targetBytes) {
      // even its trough over what it should hold right after a write: the output's clock is slower than ours
      return this.trim();
    }
    if (lib.streamWrite(this.stream, pcm, pcm.length, null, 0, PA_SEEK_RELATIVE) < 0) {
      this.failed = `the sound server stopped taking sound: ${lib.strerror(lib.contextErrno(this.context))}`;
      return false;
    }
    if (!this.started) {
      this.started = true;
      const op = lib.streamCork(this.stream, 0, null, null);
      if (op) lib.operationUnref(op);
    }
    this.iterate();
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idle);
    const lib = this.lib;
    lib.streamDisconnect(this.stream);
    lib.streamUnref(this.stream);
    lib.contextDisconnect(this.context);
    lib.contextUnref(this.context);
    lib.mainloopFree(this.mainloop);
    lib.unregister(this.onUnderflow);
  }

  /** Silence ahead of the write to come, so that with it the stream holds the target (after an underrun: from where the server reads). */
  private lead(comingBytes: number, seek: number): void {
    const bytes = Math.max(0, this.targetBytes - comingBytes);
    this.lib.streamWrite(this.stream, Buffer.alloc(bytes), bytes, null, 0, seek);
  }

  private trim(): false {
    this.trimmed += 1;
    this.recentLevels.length = 0;
    return false;
  }

  /**
   * Reads the server's newest report once, as it comes in (the loop is served at every write), and asks for
   * the next every TIMING_EVERY_MS. Its read index against libpulse's own write index, which already counts
   * what was written since (at most a half frame, as the report is read within a write of its coming): what
   * the stream held, or more. Under zero, the server has read past our sound, an underrun it need not have
   * said (pipewire-pulse tells only when a stream goes from playing to dry, not one that never got ahead of
   * its cycle).
   */
  private readReport(now: number): void {
    if (!this.started) return;
    const info = this.lib.streamGetTimingInfo(this.stream);
    if (info) {
      const t = this.lib.timingInfo(info);
      if (t.atMs !== this.lastReportAt && t.readIndex !== null && t.writeIndex !== null && t.playing) {
        this.lastReportAt = t.atMs;
        this.levelBytes = t.writeIndex - t.readIndex;
        this.learnCycle(t.readIndex);
        this.recentLevels.push(this.levelBytes);
        if (this.recentLevels.length > TROUGH_REPORTS) this.recentLevels.shift();
        // a report from before the stream was placed anew (asked for before it, answered after) is of the underrun just handled
        const starved = this.levelBytes < 0 && t.atMs - this.resyncedAtWall >= SAME_UNDERRUN_MS;
        this.starvedReports = starved ? this.starvedReports + 1 : 0;
        if (this.starvedReports >= STARVED_REPORTS && !this.resync) {
          this.underruns += 1;
          this.resync = true;
          this.deficitBytes = align(-this.levelBytes);
        }
      }
    }
    if (now - this.lastTiming < TIMING_EVERY_MS) return;
    this.lastTiming = now;
    const op = this.lib.streamUpdateTimingInfo(this.stream, null, null);
    if (op) this.lib.operationUnref(op);
  }

  /**
   * The server reads a quantum each cycle, so its read index is a whole number of them: their greatest common
   * divisor, over a few reports, is the cycle. Where it is longer than the target allows for, the target's
   * floor rises over it, and the stream is placed there at the next write.
   */
  private learnCycle(readIndex: number): void {
    if (readIndex <= 0) return;
    this.cycleBytes = gcd(this.cycleBytes, readIndex);
    this.cycleReports += 1;
    if (this.cycleReports < CYCLE_REPORTS || this.cycleBytes > MAX_CYCLE_MS * BYTES_PER_MS) return;
    this.baseBytes = Math.max(this.startBytes, align(this.cycleBytes + OVER_CYCLE_MS * BYTES_PER_MS));
    if (this.targetBytes < this.baseBytes) {
      this.targetBytes = this.baseBytes - align(RAISE_MS * BYTES_PER_MS);
      this.resync = true;
    }
  }

  /** Sends what was written and takes in what the server sent, without waiting. */
  private iterate(): void {
    if (this.closed) return;
    for (let i = 0; i < 4 && (this.lib.mainloopIterate(this.mainloop, 0, null) as number) > 0; i += 1);
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Whole frames of s16 stereo (4 bytes). */
function align(bytes: number): number {
  return Math.round(bytes / 4) * 4;
}

async function settle(lib: PulseLib, mainloop: unknown, done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  for (;;) {
    lib.mainloopIterate(mainloop, 0, null);
    if (done()) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${CONNECT_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
