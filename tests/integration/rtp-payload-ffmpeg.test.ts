import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { depacketize, type DepacketizedFrame, type RtpVideoCodec } from '../../src/core/rtp/depacketize';
import { crc32Mpeg2, PMT_PID, TS_PACKET_BYTES, TsWriter, VIDEO_PID } from '../../src/core/rtp/mpegts-writer';
import { parseRtpHeader } from '../../src/core/rtp/rtp-packet';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg && command -v ffprobe']).status === 0;
if (!hasFfmpeg) console.warn('SKIP RTP payload tests with ffmpeg: ffmpeg is not installed (CI installs it with .ci/run)');

const FRAMES = 45;
const FPS = 30;
/** This frame gets a filler NAL unit that takes it past a 16-bit PES length. */
const BIG_FRAME = 20;
const FILLER_BYTES = 70_000;
/** Frames the decoder may take to start (it reads the stream info from the first) before each one must come out at once. */
const WARMUP_FRAMES = 1;
const GRAY_WIDTH = 64;
const GRAY_HEIGHT = 36;

const ENCODERS: Record<RtpVideoCodec, string[]> = {
  h264: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0', '-g', '15', '-x264-params', 'repeat-headers=1'],
  hevc: ['-c:v', 'libx265', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0', '-g', '15', '-x265-params', 'repeat-headers=1:bframes=0:log-level=error'],
};

/** The input options of the viewer's decoder: no probing, no parser, one thread. */
const LOW_DELAY_INPUT = ['-fflags', 'noparse+nofillin', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '1', '-fpsprobesize', '0', '-threads', '1', '-f', 'mpegts'];

interface CapturedFrame {
  payloads: Buffer[];
  /** RTP timestamp (90 kHz). */
  timestamp: number;
}

/** Encodes the test pattern to RTP on loopback and groups the payloads into frames by the marker bit. */
async function captureRtp(codec: RtpVideoCodec): Promise<{ frames: CapturedFrame[]; lostPackets: number; payloadTypes: Set<number> }> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const frames: CapturedFrame[] = [];
  const payloadTypes = new Set<number>();
  let current: Buffer[] = [];
  let lastSeq: number | null = null;
  let lostPackets = 0;
  socket.on('message', (packet) => {
    // RTCP sender reports share the port: packet types 200..204
    const kind = packet[1]! & 0x7f;
    if (kind >= 72 && kind <= 76) return;
    const header = parseRtpHeader(packet);
    if (!header) return;
    if (lastSeq !== null) lostPackets += (header.seq - lastSeq - 1) & 0xffff;
    lastSeq = header.seq;
    const payload = packet.subarray(header.headerLength);
    payloadTypes.add(codec === 'h264' ? payload[0]! & 0x1f : (payload[0]! >> 1) & 0x3f);
    current.push(payload);
    if (header.marker) {
      frames.push({ payloads: current, timestamp: header.timestamp });
      current = [];
    }
  });
  const { port } = socket.address();
  const args = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}`, '-frames:v', String(FRAMES), ...ENCODERS[codec], '-pix_fmt', 'yuv420p'];
  const encoder = spawn('ffmpeg', [...args, '-f', 'rtp', '-pkt_size', '1200', '-payload_type', '96', `udp://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  encoder.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => encoder.on('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.close();
  if (code !== 0) throw new Error(`encoder exited ${code}: ${stderr}`);
  return { frames, lostPackets, payloadTypes };
}

/** Filler data after the picture's slices: decoders drop it, so the picture is unchanged. */
function fillerNal(codec: RtpVideoCodec, bytes: number): Buffer {
  const header = codec === 'h264' ? [0x0c] : [38 << 1, 0x01];
  return Buffer.concat([Buffer.from([0, 0, 0, 1, ...header]), Buffer.alloc(bytes, 0xff), Buffer.from([0x80])]);
}

function md5s(args: string[]): string[] {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args, '-fps_mode', 'passthrough', '-f', 'framemd5', '-'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return out
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').at(-1)!.trim());
}

/**
 * Feeds the low-delay decoder one frame's TS at a time and waits (up to 2 s) for that frame's picture
 * before writing the next; the time each took, or null where it did not come out in time.
 */
async function feedFrameByFrame(units: Buffer[]): Promise<{ waitsMs: (number | null)[]; decoded: number; stderr: string }> {
  const frameBytes = GRAY_WIDTH * GRAY_HEIGHT;
  const decoder = spawn(
    'ffmpeg',
    // -threads 1 on the output too: the rawvideo encoder's frame threads would hold each picture until the next
    ['-hide_banner', '-loglevel', 'error', ...LOW_DELAY_INPUT, '-i', 'pipe:0', '-vf', `scale=${GRAY_WIDTH}:${GRAY_HEIGHT}`, '-pix_fmt', 'gray', '-threads', '1', '-fps_mode', 'passthrough', '-flush_packets', '1', '-f', 'rawvideo', 'pipe:1'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  decoder.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let outputBytes = 0;
  let onOutput: (() => void) | null = null;
  decoder.stdout.on('data', (chunk: Buffer) => {
    outputBytes += chunk.length;
    onOutput?.();
  });
  const exited = new Promise<void>((resolve) => decoder.on('close', () => resolve()));
  const decodedFrames = () => Math.floor(outputBytes / frameBytes);
  const waitsMs: (number | null)[] = [];
  for (const [index, unit] of units.entries()) {
    const written = performance.now();
    decoder.stdin.write(unit);
    const out = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      onOutput = () => {
        if (decodedFrames() <= index) return;
        clearTimeout(timer);
        resolve(true);
      };
      onOutput();
    });
    onOutput = null;
    waitsMs.push(out ? performance.now() - written : null);
  }
  decoder.stdin.end();
  await exited;
  return { waitsMs, decoded: decodedFrames(), stderr };
}

interface DemuxedPes {
  lengthField: number;
  pts: number;
  data: Buffer;
  randomAccess: boolean;
  pcr: number | null;
}

/**
 * A strict reading of TsWriter's output: sync bytes, continuity counters, table CRCs, PES lengths, stuffing
 * only in adaptation fields. Padding-stream PES (0xBE) on the video PID are listed apart, by the number of
 * video PES before each.
 */
function demuxTs(ts: Buffer): { pes: DemuxedPes[]; tables: number; paddingAfter: number[] } {
  expect(ts.length % TS_PACKET_BYTES).toBe(0);
  const counters = new Map<number, number>();
  const pes: DemuxedPes[] = [];
  const paddingAfter: number[] = [];
  let pending: { bytes: Buffer[]; randomAccess: boolean; pcr: number | null } | null = null;
  let tables = 0;
  const finish = () => {
    if (!pending) return;
    const whole = Buffer.concat(pending.bytes);
    expect(whole.readUIntBE(0, 3)).toBe(1);
    if (whole[3] === 0xbe) {
      // padding stream: its length set, then only 0xFF, in one packet with no PCR or random access flag
      expect(whole.readUInt16BE(4)).toBeGreaterThan(0);
      expect(whole.length).toBe(whole.readUInt16BE(4) + 6);
      expect([...whole.subarray(6)].every((byte) => byte === 0xff)).toBe(true);
      expect(pending.bytes.length).toBe(1);
      expect([pending.randomAccess, pending.pcr]).toEqual([false, null]);
      paddingAfter.push(pes.length);
      pending = null;
      return;
    }
    expect(whole[3]).toBe(0xe0);
    const lengthField = whole.readUInt16BE(4);
    // with the length set, not one byte past it (no 0xFF payload stuffing)
    if (lengthField) expect(whole.length).toBe(lengthField + 6);
    expect(whole[7]! & 0xc0).toBe(0x80);
    const pts = (whole[9]! & 0x0e) * 2 ** 29 + (whole.readUInt16BE(10) >> 1) * 2 ** 15 + (whole.readUInt16BE(12) >> 1);
    pes.push({ lengthField, pts, data: whole.subarray(9 + whole[8]!), randomAccess: pending.randomAccess, pcr: pending.pcr });
    pending = null;
  };
  for (let at = 0; at < ts.length; at += TS_PACKET_BYTES) {
    const packet = ts.subarray(at, at + TS_PACKET_BYTES);
    expect(packet[0]).toBe(0x47);
    const pid = packet.readUInt16BE(1) & 0x1fff;
    const unitStart = (packet[1]! & 0x40) !== 0;
    const control = (packet[3]! >> 4) & 0x03;
    const counter = packet[3]! & 0x0f;
    if (counters.has(pid)) expect(counter).toBe((counters.get(pid)! + 1) & 0x0f);
    counters.set(pid, counter);
    let offset = 4;
    let randomAccess = false;
    let pcr: number | null = null;
    if (control & 0x02) {
      const fieldLength = packet[4]!;
      if (fieldLength > 0) {
        randomAccess = (packet[5]! & 0x40) !== 0;
        if (packet[5]! & 0x10) pcr = packet.readUInt32BE(6) * 2 + (packet[10]! >> 7);
        const stuffingFrom = 6 + (pcr !== null ? 6 : 0);
        expect([...packet.subarray(stuffingFrom, 5 + fieldLength)].every((byte) => byte === 0xff)).toBe(true);
      }
      offset = 5 + fieldLength;
    }
    const payload = packet.subarray(offset);
    if (pid === 0 || pid === PMT_PID) {
      expect(unitStart).toBe(true);
      const section = payload.subarray(1 + payload[0]!);
      const sectionLength = section.readUInt16BE(1) & 0x0fff;
      expect(crc32Mpeg2(section.subarray(0, 3 + sectionLength))).toBe(0); // the CRC over a section with its CRC is 0
      if (pid === PMT_PID) {
        expect(section.readUInt16BE(8) & 0x1fff).toBe(VIDEO_PID); // PCR PID
        expect(section.readUInt16BE(13) & 0x1fff).toBe(VIDEO_PID);
      }
      tables += 1;
      continue;
    }
    expect(pid).toBe(VIDEO_PID);
    if (unitStart) {
      finish();
      pending = { bytes: [], randomAccess, pcr };
    }
    pending!.bytes.push(payload);
  }
  finish();
  return { pes, tables, paddingAfter };
}

describe.skipIf(!hasFfmpeg).each(['h264', 'hevc'] as const)('RTP payloads of ffmpeg %s → depacketize → MPEG-TS → ffmpeg', (codec) => {
  let dir = '';
  let units: DepacketizedFrame[] = [];
  let ptsMs: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `rtp-${codec}-`));
    const { frames, lostPackets, payloadTypes } = await captureRtp(codec);
    expect(lostPackets).toBe(0);
    expect(frames.length).toBe(FRAMES);
    // ffmpeg's packetizer aggregated the parameter sets and fragmented the slices
    expect(payloadTypes).toContain(codec === 'h264' ? 24 : 48);
    expect(payloadTypes).toContain(codec === 'h264' ? 28 : 49);
    units = frames.map((frame) => depacketize(codec, frame.payloads)!);
    expect(units.every(Boolean)).toBe(true);
    expect(units[0]!.keyframe).toBe(true);
    expect(units.filter((unit) => unit.keyframe).length).toBe(FRAMES / 15);
    const big = units[BIG_FRAME]!;
    units[BIG_FRAME] = { ...big, data: Buffer.concat([big.data, fillerNal(codec, FILLER_BYTES)]) };
    ptsMs = frames.map((frame) => ((frame.timestamp - frames[0]!.timestamp) >>> 0) / 90);
  }, 20_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('decodes the TS to the same pictures as the raw Annex B stream', () => {
    const writer = new TsWriter(codec);
    const ts = Buffer.concat(units.map((unit, index) => writer.write(unit.data, ptsMs[index]!, unit.keyframe)));
    writeFileSync(join(dir, 'frames.ts'), ts);
    writeFileSync(join(dir, `frames.${codec}`), Buffer.concat(units.map((unit) => unit.data)));
    const { pes, paddingAfter } = demuxTs(ts);
    // one PES per frame; a padding PES right after the one too long for a PES length ends it
    expect(pes.length).toBe(FRAMES);
    expect(pes[BIG_FRAME]!.lengthField).toBe(0);
    expect(pes.filter((one) => one.lengthField === 0).length).toBe(1);
    expect(paddingAfter).toEqual([BIG_FRAME + 1]);

    const fromTs = md5s(['-f', 'mpegts', '-i', join(dir, 'frames.ts')]);
    const fromRaw = md5s(['-f', codec, '-i', join(dir, `frames.${codec}`)]);
    expect(fromRaw.length).toBe(FRAMES);
    expect(fromTs).toEqual(fromRaw);
    const lowDelay = md5s([...LOW_DELAY_INPUT, '-i', join(dir, 'frames.ts')]);
    expect(lowDelay).toEqual(fromRaw);
  });

  it('the low-delay decoder puts out each frame before the next one is written', async () => {
    const writer = new TsWriter(codec);
    const { waitsMs, decoded, stderr } = await feedFrameByFrame(units.map((unit, index) => writer.write(unit.data, ptsMs[index]!, unit.keyframe)));
    const settled = waitsMs.slice(WARMUP_FRAMES);
    const held = settled.flatMap((wait, index) => (wait === null ? [index + WARMUP_FRAMES] : []));
    const times = settled.filter((wait): wait is number => wait !== null).sort((a, b) => a - b);
    console.log(
      `${codec}: frame out after its write: first ${waitsMs.slice(0, WARMUP_FRAMES).map((wait) => (wait === null ? 'held' : `${wait.toFixed(1)} ms`)).join(', ')};` +
        ` then median ${times[Math.floor(times.length / 2)]?.toFixed(1)} ms, max ${times.at(-1)?.toFixed(1)} ms; big frame ${waitsMs[BIG_FRAME]?.toFixed(1) ?? 'held'} ms; held back: [${held.join(', ')}]` +
        `\n  per frame (ms): ${waitsMs.map((wait) => (wait === null ? 'held' : wait.toFixed(1))).join(' ')}`,
    );
    if (stderr) console.log(`${codec} decoder said: ${stderr.trim()}`);
    // the padding PES that ends the big frame reaches no decoder (an AUD-only PES made H.264 log both)
    expect(stderr).not.toMatch(/Invalid data|no frame/);
    expect(held).toEqual([]);
    expect(decoded).toBe(FRAMES);
  }, 30_000);
});

describe('TsWriter on an access unit too long for a PES length', () => {
  const aud = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
  const big = Buffer.concat([aud, Buffer.from([0, 0, 0, 1, 0x0c]), Buffer.alloc(100_000 - aud.length - 6, 0xff), Buffer.from([0x80])]);
  const small = Buffer.concat([aud, Buffer.from([0, 0, 0, 1, 0x0c, 0xff, 0xff, 0x80])]);

  function twoUnits(): Buffer {
    const writer = new TsWriter('h264');
    return Buffer.concat([writer.write(big, 1000, true), writer.write(small, 1033.3, false)]);
  }

  it('writes it unbounded, ends it at once with a padding PES, and the next unit follows intact', () => {
    const { pes, tables, paddingAfter } = demuxTs(twoUnits());
    expect(tables).toBe(2);
    expect(paddingAfter).toEqual([1]);
    expect(pes.map((one) => [one.lengthField, one.data.length])).toEqual([
      [0, 100_000],
      [small.length + 8, small.length],
    ]);
    expect(pes[0]!.data).toEqual(big);
    expect(pes[1]!.data).toEqual(small);
    expect(pes.map((one) => one.pts)).toEqual([90_000, 92_997]);
    expect(pes.map((one) => one.pcr)).toEqual([90_000, 92_997]);
    expect(pes.map((one) => one.randomAccess)).toEqual([true, false]);
  });

  it.skipIf(!hasFfmpeg)('ffprobe reads back packets of the right sizes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-big-'));
    try {
      writeFileSync(join(dir, 'big.ts'), twoUnits());
      const out = execFileSync('ffprobe', ['-v', 'error', '-fflags', 'noparse', '-f', 'mpegts', '-show_entries', 'packet=size,pts', '-of', 'json', join(dir, 'big.ts')], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
      const packets = (JSON.parse(out) as { packets: { size: string; pts: number }[] }).packets;
      // the padding PES is no packet
      expect(packets.map((packet) => [Number(packet.size), packet.pts])).toEqual([
        [100_000, 90_000],
        [small.length, 92_997],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
