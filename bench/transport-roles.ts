// bench/transport: the measured processes, each the bench's bundle started with a role. Each reads JSON
// commands on stdin and answers JSON lines on stdout: first its port, then on 'begin' it marks its CPU time,
// on 'end' it answers the CPU time and wall time since 'begin', on 'count' what it received.
//   send-ours: the host's side, the native data plane where it is built (NativeRtpOutput; else, or with
//     GPU_BRIDGE_RTP_NATIVE=off, RtpOutput, the fan-out the encoder sends to → RtpPeerSender: SRTP, FEC)
//   recv-ours: the peer's side, the native data plane where it is built (else, or with
//     GPU_BRIDGE_RTP_NATIVE=off, RtpReceiver: SRTP, FEC, NACK, assembler) → MPEG-TS into a pipe to check-ts
//   check-ts: the decoder's stand-in, not measured: reads the MPEG-TS and counts the frames that came out
//     byte for byte as they went in
//   send-bare, recv-bare: the baseline, a plain Node UDP forward of the same packets and a plain receiver
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { preciseNow } from '../src/core/pairing/channel';
import type { AssembledFrame } from '../src/core/rtp/frame-assembler';
import { TsWriter } from '../src/core/rtp/mpegts-writer';
import { RtpOutput } from '../src/core/rtp/rtp-output';
import { keysFromWire, MEDIA_PAYLOAD_TYPE, type RtpKeysWire } from '../src/core/rtp/rtp-keys';
import type { RtpPeerSender } from '../src/core/rtp/rtp-peer-sender';
import { NativeRtpOutput, type NativeRtpPeerSender } from '../src/core/rtp/native-sender';
import { RtpReceiver } from '../src/core/rtp/rtp-receiver';
import { NativeRtpReceiver } from '../src/core/rtp/native-receiver';
import { nativeRtp } from '../src/core/rtp/native-rtp-lib';
import { decoderFd } from '../src/core/rtp/rtp-input';
import { TsDemuxer } from '../tests/helpers/ts-demux';
import { loadFrames, streamFile } from './transport-stream';

export interface RoleSetup {
  keys: RtpKeysWire;
  /** Where the sender sends (the receiver's port). */
  target?: number;
  mbps: number;
  repo: string;
}

export interface CpuWindow {
  cpuUs: number;
  /** Of which in the kernel. */
  systemUs: number;
  wallMs: number;
  /** Times the process slept and woke (voluntary context switches). */
  wakeups: number;
}

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Serves 'begin', 'end' and 'count' once the role is set up; exits when stdin ends. */
function serve(count: () => unknown, close: () => void): void {
  const now = () => ({ cpu: process.cpuUsage(), at: preciseNow(), switches: process.resourceUsage().voluntaryContextSwitches });
  let mark = now();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'begin') mark = now();
    else if (line === 'end') {
      const used = process.cpuUsage(mark.cpu);
      const end = now();
      answer({ cpuUs: used.user + used.system, systemUs: used.system, wallMs: end.at - mark.at, wakeups: end.switches - mark.switches } satisfies CpuWindow);
    } else if (line === 'count') void Promise.resolve(count()).then(answer);
  });
  lines.once('close', () => {
    close();
    // a normal exit, so that --cpu-prof writes its profile
    setTimeout(() => process.exit(0), 50);
  });
}

async function setup(): Promise<RoleSetup> {
  const lines = createInterface({ input: process.stdin });
  const first = await new Promise<string>((resolve) => lines.once('line', resolve));
  lines.close();
  return JSON.parse(first) as RoleSetup;
}

export async function roleMain(role: string): Promise<void> {
  // its stdin is the MPEG-TS: its setup comes as an argument
  if (role === 'check-ts') return checkTs(JSON.parse(process.argv[3]!) as RoleSetup);
  const config = await setup();
  if (role === 'send-ours') return sendOurs(config);
  if (role === 'recv-ours') return recvOurs(config);
  if (role === 'send-bare') return sendBare(config);
  if (role === 'recv-bare') return recvBare();
  throw new Error(`unknown role ${role}`);
}

async function sendOurs(config: RoleSetup): Promise<void> {
  const lib = nativeRtp();
  const output = typeof lib === 'string' ? new RtpOutput() : new NativeRtpOutput(lib);
  const sender = output.peerSender({ host: '127.0.0.1', port: config.target! }, keysFromWire(config.keys), MEDIA_PAYLOAD_TYPE.h264);
  await sender.start();
  output.addViewer('bench', sender);
  const source = await output.openSource();
  // the viewer's keyframe request goes to the encoder's stand-in, as the session restarts its encoder
  sender.on('keyframe', () => answer({ event: 'keyframe' }));
  answer({ port: source.port, fromPort: source.fromPort, dataPlane: output instanceof NativeRtpOutput ? 'native' : `javascript (${String(lib)})` });
  serve(() => ({ ...(sender as RtpPeerSender | NativeRtpPeerSender).counters, ...output.counters }), () => output.close());
}

async function recvOurs(config: RoleSetup): Promise<void> {
  const options = { listen: '127.0.0.1', port: 0, keys: keysFromWire(config.keys), codec: 'h264' } as const;
  const lib = nativeRtp();
  const receiver = typeof lib === 'string' ? new RtpReceiver(options) : new NativeRtpReceiver(lib, options);
  const port = await receiver.start();
  // the decoder's stand-in, in a process of its own (its work is not the receiver's)
  const checker = spawn(process.execPath, [process.argv[1]!, 'check-ts', JSON.stringify(config)], { stdio: ['pipe', 'ignore', 'inherit', 'ipc'] });
  checker.stdin!.on('error', () => undefined);
  if (receiver instanceof NativeRtpReceiver) {
    receiver.attach(decoderFd(checker.stdin!));
  } else {
    const ts = new TsWriter('h264');
    const startedAt = preciseNow();
    receiver.on('frame', (frame: AssembledFrame) => checker.stdin!.write(ts.write(frame.data, frame.firstArrival - startedAt, frame.keyframe)));
  }
  answer({ port, dataPlane: receiver instanceof NativeRtpReceiver ? 'native' : `javascript (${String(lib)})` });
  serve(
    () =>
      new Promise((resolve) => {
        checker.once('message', (checked: { intact: number; corrupt: number }) => resolve({ ...checked, ...receiver.counters }));
        checker.send('count');
      }),
    () => {
      receiver.close();
      checker.stdin!.end();
      checker.disconnect();
    },
  );
}

/** Reads the MPEG-TS on stdin (TsWriter's: one PES per frame on the video PID), each frame checked against the stream's. */
function checkTs(config: RoleSetup): void {
  const frames = loadFrames(streamFile(config.repo, config.mbps));
  let next = 0;
  let intact = 0;
  let corrupt = 0;
  const check = (data: Buffer) => {
    // the stream loops: the frame is the next expected one, or a later one after frames given up
    for (let step = 0; step < frames.length; step += 1) {
      const index = (next + step) % frames.length;
      const expected = frames[index]!.expected;
      if (expected.length === data.length && expected.equals(data)) {
        intact += 1;
        next = index + 1;
        return;
      }
    }
    corrupt += 1;
  };
  const demuxer = new TsDemuxer();
  process.stdin.on('data', (chunk: Buffer) => {
    for (const unit of demuxer.push(chunk)) check(unit);
  });
  process.on('message', () => process.send!({ intact, corrupt }));
  process.on('disconnect', () => process.exit(0));
}

async function sendBare(config: RoleSetup): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  socket.setRecvBufferSize(8 << 20);
  const out = createSocket('udp4');
  await new Promise<void>((resolve) => out.bind(0, '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve, reject) => out.connect(config.target!, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve())));
  out.setSendBufferSize(4 << 20);
  let forwarded = 0;
  socket.on('message', (data) => {
    out.send(data);
    forwarded += 1;
  });
  answer({ port: socket.address().port, fromPort: null });
  serve(() => ({ forwarded }), () => {
    socket.close();
    out.close();
  });
}

async function recvBare(): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  socket.setRecvBufferSize(8 << 20);
  let received = 0;
  socket.on('message', () => {
    received += 1;
  });
  answer({ port: socket.address().port });
  serve(() => ({ received }), () => socket.close());
}
