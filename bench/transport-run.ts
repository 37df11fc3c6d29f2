// bench/transport: what the rtp transport costs at 4K. A pre-encoded 3840x2160@60 H.264 stream (keyframe
// every 2 s, one per bitrate, see transport-stream.ts) is fed as the encoder feeds it (plain RTP over
// loopback, a frame's packets at once, 60 frames a second) through the real sender (fan-out, SRTP, FEC) and
// receiver (SRTP, FEC, NACK, assembler, MPEG-TS into a pipe), each its own process, at 8, 25, 50 and 100
// Mbit/s; and, in the same run, through a bare Node UDP forward of the same packets. Per end: % of a core
// (CPU time over wall time, from process.cpuUsage), µs of CPU per media packet, the ratio to the bare
// forward; and the frames that came out byte for byte as they went in. A keyframe request makes the
// feeder jump to the stream's next keyframe, as the session restarts its encoder for one. Prints one JSON
// line at the end.
// BENCH_SECONDS (default 6) measured per run, BENCH_RATES=8,100 picks rates, BENCH_PROF=DIR writes
// --cpu-prof profiles of the measured processes there, BENCH_NODE_FLAGS adds flags to their node.
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { spawnTied, type SupervisedSpawn } from '../src/core/sessions/child-process';
import { preciseNow } from '../src/core/pairing/channel';
import { keysToWire, newRtpKeys } from '../src/core/rtp/rtp-keys';
import { writeRtpHeader } from '../src/core/rtp/rtp-packet';
import { roleMain, type CpuWindow, type RoleSetup } from './transport-roles';
import { FPS, HEIGHT, loadFrames, streamFile, WIDTH, type BenchFrame } from './transport-stream';

const repo = process.env.BENCH_REPO ?? process.cwd();
const SECONDS = Math.max(2, Math.min(60, Number(process.env.BENCH_SECONDS ?? 6) || 6));
/**
 * Before measuring: a fresh Node process spends its first seconds in V8's memory reducer (major GCs on
 * every thread), about 1% of a core here, which a session minutes long does not; BENCH_WARMUP_SECONDS.
 */
const WARMUP_MS = 1000 * Math.max(1, Math.min(60, Number(process.env.BENCH_WARMUP_SECONDS ?? 8) || 8));
const DRAIN_MS = 600;
const RATES = (process.env.BENCH_RATES ?? '8,25,50,100').split(',').map(Number).filter((rate) => rate > 0);
const PROFILE_DIR = process.env.BENCH_PROF;

interface Role {
  process: SupervisedSpawn;
  next(): Promise<unknown>;
  send(line: string): void;
  /** Unasked lines ({"event": …}) go here. */
  onEvent?: (event: string) => void;
}

const roles = new Set<SupervisedSpawn>();

async function startRole(name: string, setup: RoleSetup): Promise<{ role: Role; hello: { port: number; fromPort?: number | null; dataPlane?: string } }> {
  const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${setup.mbps}M-${Date.now()}.cpuprofile`] : [];
  // e.g. --perf-basic-prof for `perf record`, --trace-gc
  nodeArgs.push(...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  const child = spawnTied(process.execPath, [...nodeArgs, process.argv[1]!, name], ['pipe', 'pipe', 'inherit']);
  roles.add(child);
  const lines = createInterface({ input: child.child.stdout! });
  const waiting: ((value: unknown) => void)[] = [];
  const queued: unknown[] = [];
  lines.on('line', (line) => {
    // anything else on stdout (node's --trace-* flags) is passed on
    if (!line.startsWith('{')) {
      if (process.env.BENCH_NODE_FLAGS) console.log(`  [${name}] ${line}`);
      return;
    }
    const value = JSON.parse(line) as unknown;
    if (typeof value === 'object' && value !== null && 'event' in value) {
      role.onEvent?.(String(value.event));
      return;
    }
    const waiter = waiting.shift();
    if (waiter) waiter(value);
    else queued.push(value);
  });
  const role: Role = {
    process: child,
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve, reject) => {
      waiting.push(resolve);
      void child.exited.then(({ code }) => reject(new Error(`bench role ${name} exited (${code})`)));
    })),
    send: (line) => child.child.stdin!.write(`${line}\n`),
  };
  role.send(JSON.stringify(setup));
  return { role, hello: (await role.next()) as { port: number; fromPort?: number | null; dataPlane?: string } };
}

async function stopRole(role: Role): Promise<void> {
  role.process.child.stdin!.end();
  await Promise.race([role.process.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
  await role.process.stop(1000);
  roles.delete(role.process);
}

/** The encoder's stand-in: each frame's packets at once, 60 frames a second, looping the stream. */
class Feeder {
  framesSent = 0;
  packetsSent = 0;
  keyframesAsked = 0;
  /** Times the feeder was held up by more than two frames and skipped ahead. */
  stalls = 0;
  private readonly socket: Socket = createSocket('udp4');
  private readonly packets: Buffer[][];
  private timer: NodeJS.Timeout | null = null;
  private index = 0;
  private stopped = false;

  private seq = 0;

  private readonly keyframes: number[];

  constructor(frames: BenchFrame[]) {
    this.keyframes = frames.flatMap((frame, index) => (frame.keyframe ? [index] : []));
    this.packets = frames.map((frame) => frame.packets.map((packet) => {
      const header = writeRtpHeader({ marker: packet.marker, payloadType: 96, seq: 0, timestamp: 0, ssrc: 1 });
      return Buffer.concat([header, packet.payload]);
    }));
  }

  /** A copy with its sequence number (RtpOutput cuts a frame at a gap, as the encoder's packets lost on the way). */
  private numbered(packet: Buffer): Buffer {
    const copy = Buffer.from(packet);
    copy.writeUInt16BE(this.seq, 2);
    this.seq = (this.seq + 1) & 0xffff;
    return copy;
  }

  async start(to: number, from: number | null): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(from ?? 0, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve, reject) => this.socket.connect(to, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve())));
    this.socket.setSendBufferSize(4 << 20);
    const startedAt = preciseNow();
    const interval = 1000 / FPS;
    let slot = 0;
    const tick = (): void => {
      for (const packet of this.packets[this.index]!) this.socket.send(this.numbered(packet));
      this.packetsSent += this.packets[this.index]!.length;
      this.framesSent += 1;
      this.index = (this.index + 1) % this.packets.length;
      slot += 1;
      // a live source that was held up skips the frames it missed, as a capture does, rather than
      // bursting them all out at once (this machine's other work can hold the feeder up for a second)
      const behind = Math.floor((preciseNow() - startedAt) / interval) - slot;
      if (behind > 2) {
        slot += behind;
        this.stalls += 1;
      }
      this.timer = setTimeout(tick, Math.max(0, startedAt + slot * interval - preciseNow()));
    };
    tick();
  }

  /** A keyframe was asked for: the next frame sent is one (as an encoder restarted for it would send). */
  keyframe(): void {
    this.keyframesAsked += 1;
    this.index = this.keyframes.find((index) => index >= this.index) ?? this.keyframes[0] ?? this.index;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket.close();
  }
}

interface EndFigures {
  cpuPercent: number;
  usPerPacket: number;
  systemShare: number;
  wakeupsPerFrame: number;
}

interface RunFigures {
  send: EndFigures;
  recv: EndFigures;
  packetsPerSecond: number;
  framesSent: number;
  /** Ours: frames byte for byte as sent; bare: media packets arrived. */
  intactPercent: number;
  keyframesAsked: number;
  stalls: number;
  detail: Record<string, unknown>;
  /** Each end's: native, or javascript and why. */
  dataPlane: { send: string; recv: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function figures(window: CpuWindow, packets: number): EndFigures {
  return {
    cpuPercent: (window.cpuUs / 1000 / window.wallMs) * 100,
    usPerPacket: packets > 0 ? window.cpuUs / packets : NaN,
    systemShare: window.cpuUs > 0 ? window.systemUs / window.cpuUs : NaN,
    wakeupsPerFrame: window.wakeups / ((window.wallMs / 1000) * FPS),
  };
}

async function measure(kind: 'ours' | 'bare', mbps: number, frames: BenchFrame[]): Promise<RunFigures> {
  const keys = keysToWire(newRtpKeys());
  const recv = await startRole(`recv-${kind}`, { keys, mbps, repo });
  const send = await startRole(`send-${kind}`, { keys, mbps, repo, target: recv.hello.port });
  const feeder = new Feeder(frames);
  send.role.onEvent = (event) => {
    if (event === 'keyframe') feeder.keyframe();
  };
  try {
    await feeder.start(send.hello.port, send.hello.fromPort ?? null);
    await sleep(WARMUP_MS);
    const packetsBefore = feeder.packetsSent;
    const beganAt = preciseNow();
    send.role.send('begin');
    recv.role.send('begin');
    await sleep(SECONDS * 1000);
    send.role.send('end');
    recv.role.send('end');
    const packets = feeder.packetsSent - packetsBefore;
    const seconds = (preciseNow() - beganAt) / 1000;
    const [sendWindow, recvWindow] = (await Promise.all([send.role.next(), recv.role.next()])) as [CpuWindow, CpuWindow];
    feeder.stop();
    await sleep(DRAIN_MS);
    send.role.send('count');
    recv.role.send('count');
    const [sent, received] = (await Promise.all([send.role.next(), recv.role.next()])) as [Record<string, number>, Record<string, number>];
    const intactPercent = kind === 'ours' ? (received.intact! / feeder.framesSent) * 100 : (received.received! / feeder.packetsSent) * 100;
    return {
      send: figures(sendWindow, packets),
      recv: figures(recvWindow, packets),
      packetsPerSecond: packets / seconds,
      framesSent: feeder.framesSent,
      intactPercent,
      keyframesAsked: feeder.keyframesAsked,
      stalls: feeder.stalls,
      detail: { sender: sent, receiver: received },
      dataPlane: { send: send.hello.dataPlane ?? 'javascript', recv: recv.hello.dataPlane ?? 'javascript' },
    };
  } finally {
    feeder.stop();
    await Promise.all([stopRole(send.role), stopRole(recv.role)]);
  }
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

async function main(): Promise<void> {
  console.log(`bench/transport: ${WIDTH}x${HEIGHT}@${FPS}, ${SECONDS} s measured per run, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const results: Record<string, unknown> = {};
  for (const mbps of RATES) {
    const frames = loadFrames(streamFile(repo, mbps));
    const bytes = frames.reduce((sum, frame) => sum + frame.expected.length, 0);
    const keyframe = Math.max(...frames.filter((frame) => frame.keyframe).map((frame) => frame.expected.length));
    console.log(`\n${mbps} Mbit/s asked: the stream is ${fixed((bytes * 8 * FPS) / frames.length / 1e6)} Mbit/s, ${frames.length} frames looped, keyframe ${Math.round(keyframe / 1024)} KiB`);
    const bare = await measure('bare', mbps, frames);
    const ours = await measure('ours', mbps, frames);
    const row = (label: string, end: EndFigures, base: EndFigures) =>
      console.log(
        `  ${label}: ${fixed(end.cpuPercent)}% of a core, ${fixed(end.usPerPacket)} µs/packet (${Math.round(end.systemShare * 100)}% in the kernel, ${fixed(end.wakeupsPerFrame)} wakeups a frame); ` +
          `bare forward ${fixed(base.cpuPercent)}%, ${fixed(base.usPerPacket)} µs/packet (${fixed(base.wakeupsPerFrame)} wakeups); ratio ${fixed(end.usPerPacket / base.usPerPacket, 2)}`,
      );
    console.log(`  ${Math.round(ours.packetsPerSecond)} media packets/s; data planes: sender ${ours.dataPlane.send}, receiver ${ours.dataPlane.recv}`);
    row('sender  ', ours.send, bare.send);
    row('receiver', ours.recv, bare.recv);
    const receiver = ours.detail.receiver as Record<string, number>;
    const sender = ours.detail.sender as Record<string, number>;
    console.log(
      `  frames intact: ${fixed(ours.intactPercent, 2)}% of ${ours.framesSent} (lost ${receiver.framesLost}, skipped waiting for a keyframe ${receiver.framesSkipped}, ` +
        `keyframes asked ${ours.keyframesAsked}; encoder packets lost before the sender ${sender.sourceLost ?? '?'}; feeder held up ${ours.stalls}×); bare forward: ${fixed(bare.intactPercent, 2)}% of packets arrived`,
    );
    console.log(`  ${JSON.stringify(ours.detail)}`);
    results[`${mbps}M`] = {
      sendPercent: +fixed(ours.send.cpuPercent, 2), recvPercent: +fixed(ours.recv.cpuPercent, 2),
      sendUsPerPacket: +fixed(ours.send.usPerPacket, 2), recvUsPerPacket: +fixed(ours.recv.usPerPacket, 2),
      sendRatio: +fixed(ours.send.usPerPacket / bare.send.usPerPacket, 2), recvRatio: +fixed(ours.recv.usPerPacket / bare.recv.usPerPacket, 2),
      framesIntactPercent: +fixed(ours.intactPercent, 3),
    };
  }
  console.log(JSON.stringify({ bench: 'transport', results }));
}

const role = process.argv[2];
if (role) {
  roleMain(role).catch((error: unknown) => {
    console.error(`bench/transport ${role}: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
} else {
  const stopAll = () => void Promise.all([...roles].map((r) => r.stop(500))).then(() => process.exit(130));
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  main().catch(async (error: unknown) => {
    console.error(`bench/transport: ${error instanceof Error ? error.message : String(error)}`);
    await Promise.all([...roles].map((r) => r.stop(500)));
    process.exit(1);
  });
}
