// bench/latency: capture-to-decode latency at 1280x720@60 from an animated X display (Xvfb), four
// pipelines in one run: plain UDP without any recovery (the floor: our encoder settings, MPEG-TS straight
// over UDP), ours over rtp, ours over srt (at the latency our code picks: 4 × RTT + 1), and the naive one
// (ffmpeg's defaults over SRT); on loopback and through a relay process at 15 ms each way, without loss and
// with 1% random loss each way. Then rtp alone through harder links: a 200 ms outage, 5% loss, and the CPU
// of our sender and receiver at 8 Mbit/s. Run with `node bench/latency.mjs`. Prints its figures, then one
// JSON line with the ratios.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import type { LinkProfile } from '../src/core/net/udp-relay';
import { buildReceiverArgs, buildSenderArgs } from '../src/core/sessions/pipeline';
import { freeUdpPort } from '../src/core/net/free-udp-port';
import { defaultBitrateKbps } from '../src/core/sessions/selftest';
import { newPassphrase } from '../src/core/srt/srt-url';
import type { SupervisedSpawn } from '../src/core/sessions/child-process';
import type { LatencySummary } from '../src/core/sessions/quantiles';
import { startAnimator, startXvfb, type Display } from './latency-display';
import { measureRun, running } from './latency-measure';
import { naiveReceiverArgs, naiveSenderArgs } from './latency-naive';
import { childRelay, relayMain, relays } from './latency-relay';
import { measureSession, sessions } from './latency-session';
import { measureCaptures, type CaptureRow } from './latency-capture';
import { measureAudio } from './latency-audio';
import { soundRigUnavailable } from '../tests/helpers/sound-rig';
import { TRANSPORT_NAMES } from '../src/shared/transports';
import { browserMissing, measureBrowser } from './latency-browser';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 60;
const SECONDS = Math.max(2, Math.min(60, Number(process.env.BENCH_SECONDS ?? 7) || 7));
/** BENCH_ONLY=links|harder|cpu|capture|audio|browser runs one part (the default: all). */
const ONLY = process.env.BENCH_ONLY ?? 'all';
const LINKS: Array<{ label: string; link: LinkProfile | null }> = [
  { label: 'loopback', link: null },
  { label: '15 ms each way', link: { oneWayDelayMs: 15, loss: 0 } },
  { label: '15 ms each way, 1% loss each way', link: { oneWayDelayMs: 15, loss: 0.01 } },
];

interface Row {
  p50Ms: number | null;
  p95Ms: number | null;
  intactPercent: number | null;
  framesSent: number | null;
  error: string | null;
  extra?: string;
}

let display: Display | null = null;
let animator: SupervisedSpawn | null = null;
let stopping = false;

async function cleanup(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(1000)));
  await Promise.all([...sessions].map((s) => s.stop()));
  await Promise.all([...relays].map((r) => r.stop(1000)));
  await animator?.stop(1000);
  // SIGTERM lets Xvfb remove its lock file and socket
  await display?.process.stop(2000);
}

const ms = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)} ms`);
const percent = (part: number, whole: number | null) => (whole === null || whole <= 0 ? null : Math.round((Math.min(part, whole) / whole) * 1000) / 10);

function print(label: string, row: Row): void {
  const intact = row.intactPercent === null ? '—' : `${row.intactPercent}%`;
  console.log(`  ${label.padEnd(6)} p50 ${ms(row.p50Ms).padStart(9)}  p95 ${ms(row.p95Ms).padStart(9)}  intact ${intact.padStart(6)}${row.extra ? `  ${row.extra}` : ''}${row.error ? `  ERROR ${row.error}` : ''}`);
}

function latencyRow(latency: LatencySummary, intact: number, sent: number | null, error: string | null, extra?: string): Row {
  return { p50Ms: latency.p50Ms, p95Ms: latency.p95Ms, intactPercent: percent(intact, sent), framesSent: sent, error, extra };
}

/** An argv pair (floor or naive) through the relay when there is a link. */
async function argvRun(link: LinkProfile | null, env: NodeJS.ProcessEnv, build: (sendTo: number, listenOn: number) => { sender: string[]; receiver: string[] }): Promise<Row> {
  const port = await freeUdpPort('127.0.0.1');
  const relay = link ? childRelay({ host: '127.0.0.1', port }, link) : null;
  const sendTo = relay ? await relay.start() : port;
  const { sender, receiver } = build(sendTo, port);
  const run = await measureRun({ senderArgs: sender, receiverArgs: receiver, port, env, seconds: SECONDS, firstFrameTimeoutS: 25 });
  relay?.close();
  return latencyRow(run.latency, run.intact, run.framesSent, run.error);
}

function floorArgs(display: string, bitrateKbps: number, sendTo: number, listenOn: number): { sender: string[]; receiver: string[] } {
  // our sender and receiver settings exactly, with MPEG-TS over plain UDP in place of the transport
  const sender = buildSenderArgs({
    source: { kind: 'x11', display, x: 0, y: 0, width: WIDTH, height: HEIGHT }, fps: FPS, bitrateKbps, encoder: 'libx264',
    outputs: [{ host: '127.0.0.1', port: sendTo, passphrase: newPassphrase(), latencyMs: 0 }],
  });
  sender[sender.length - 1] = `udp://127.0.0.1:${sendTo}?pkt_size=1316`;
  const receiver = buildReceiverArgs({ display: false, input: 'pipe' });
  receiver[receiver.indexOf('pipe:0')] = `udp://127.0.0.1:${listenOn}?fifo_size=100000&overrun_nonfatal=1`;
  return { sender, receiver };
}

function printCaptures(rows: Record<string, CaptureRow>): Record<string, unknown> {
  const x11 = rows.x11grab?.run?.latency.p50Ms ?? null;
  const summary: Record<string, unknown> = {};
  for (const [name, row] of Object.entries(rows)) {
    if (row.skipped || !row.run) {
      console.log(`  ${name.padEnd(8)} skipped: ${row.skipped ?? 'no run'}`);
      continue;
    }
    const run = row.run;
    const overX11 = x11 === null || run.latency.p50Ms === null ? null : Math.round((run.latency.p50Ms - x11) * 10) / 10;
    const split = row.toFeed && row.toFeed.p50Ms !== null && run.latency.p50Ms !== null
      ? `; screen → our feed p50 ${ms(row.toFeed.p50Ms)} (compositor, ${name === 'wlroots' ? 'screencopy' : 'PipeWire'}, conversion, pipe), feed → decoded ${ms(run.latency.p50Ms - row.toFeed.p50Ms)} (encoder, UDP, decoder)`
      : '';
    console.log(`  ${name.padEnd(8)} p50 ${ms(run.latency.p50Ms).padStart(9)}  p95 ${ms(run.latency.p95Ms).padStart(9)}  ${run.fpsReceived} fps, frames repeated at the viewer ${run.repeated}${row.feedRepeated === null ? '' : `, by the feed ${row.feedRepeated}`}${overX11 === null || name === 'x11grab' ? '' : `, p50 ${overX11 >= 0 ? '+' : ''}${overX11} ms against x11grab (goal: within 16.7)`}${split}${run.error ? `  ERROR ${run.error}` : ''}`);
    summary[name] = { p50Ms: run.latency.p50Ms, p95Ms: run.latency.p95Ms, fps: run.fpsReceived, repeated: run.repeated, feedRepeated: row.feedRepeated, toFeedP50Ms: row.toFeed?.p50Ms ?? null, overX11P50Ms: overX11 };
  }
  return summary;
}

async function main(): Promise<number> {
  const repo = process.env.BENCH_REPO ?? process.cwd();
  const cli = join(repo, 'out', 'cli', 'index.mjs');
  if (!existsSync(cli)) throw new Error(`the built CLI is missing (${cli}): run \`npm run build\` first`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`bench/latency: ${signal}, stopping every process it started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const bitrateKbps = defaultBitrateKbps(WIDTH, HEIGHT, FPS);
  const results: Record<string, Record<string, Row>> = {};
  const extras: Record<string, unknown> = {};
  try {
    display = await startXvfb();
    const env = { ...process.env, DISPLAY: display.name };
    console.log(`bench/latency: ${WIDTH}x${HEIGHT}@${FPS} from an animated Xvfb display, libx264 at ${bitrateKbps} kbit/s, ${SECONDS} s measured per run`);
    console.log(`${cpus().length} CPUs, load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} at the start (other work on the machine shifts these figures)`);
    animator = await startAnimator(display.name, WIDTH, HEIGHT, FPS);
    const session = (transport: 'rtp' | 'srt', link: LinkProfile | null, more: Partial<Parameters<typeof measureSession>[0]> = {}) =>
      measureSession({ transport, display: display!.name, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, link, seconds: SECONDS, cli, env, ...more });
    for (const { label, link } of ONLY === 'all' || ONLY === 'links' ? LINKS : []) {
      if (stopping) break;
      const rows: Record<string, Row> = {};
      rows.floor = await argvRun(link, env, (sendTo, listenOn) => floorArgs(display!.name, bitrateKbps, sendTo, listenOn));
      const rtp = await session('rtp', link);
      rows.rtp = latencyRow(rtp.latency, rtp.intact, rtp.framesSent, rtp.error, `FEC ${rtp.rtp.fecRecovered}, NACK ${rtp.rtp.nackRecovered}, frames lost ${rtp.rtp.framesLost}`);
      const srt = await session('srt', link);
      rows.srt = latencyRow(srt.latency, srt.intact, srt.framesSent, srt.error);
      rows.naive = await argvRun(link, env, (sendTo, listenOn) => {
        const spec = { display: display!.name, width: WIDTH, height: HEIGHT, fps: FPS, passphrase: newPassphrase() };
        return { sender: naiveSenderArgs({ ...spec, port: sendTo }), receiver: naiveReceiverArgs({ ...spec, port: listenOn }) };
      });
      if (stopping) break;
      console.log(label);
      for (const [name, row] of Object.entries(rows)) print(name, row);
      const floor = rows.floor.p50Ms;
      const over = (row: Row) => (row.p50Ms === null || floor === null ? null : Math.round((row.p50Ms - floor) * 10) / 10);
      const ratio = (a: Row, b: Row) => (a.p50Ms === null || b.p50Ms === null || b.p50Ms <= 0 ? null : Math.round((a.p50Ms / b.p50Ms) * 10) / 10);
      console.log(`  p50 over the floor: rtp +${over(rows.rtp) ?? '—'} ms, srt +${over(rows.srt) ?? '—'} ms, naive +${over(rows.naive) ?? '—'} ms;  srt/rtp ×${ratio(rows.srt, rows.rtp) ?? '—'}, naive/rtp ×${ratio(rows.naive, rows.rtp) ?? '—'}`);
      results[label] = rows;
    }
    if (!stopping && (ONLY === 'all' || ONLY === 'harder')) {
      console.log('rtp through harder links (15 ms each way)');
      const outage = await session('rtp', { oneWayDelayMs: 15, loss: 0 }, { outage: { atS: Math.min(3, SECONDS / 2), ms: 200 } });
      print('outage', latencyRow(outage.latency, outage.intact, outage.framesSent, outage.error, `200 ms of total loss: clean picture ${outage.rtp.cleanPictureMsMax ?? '—'} ms after the link returned; ${outage.rtp.keyframeRequests} keyframe requests, ${outage.rtp.framesLost} frames lost`));
      const lossy = await session('rtp', { oneWayDelayMs: 15, loss: 0.05 }, { adaptive: true, seconds: Math.max(SECONDS, 12) });
      print('5%', latencyRow(lossy.latency, lossy.intact, lossy.framesSent, lossy.error, `FEC ${lossy.rtp.fecRecovered}, NACK ${lossy.rtp.nackRecovered}, frames lost ${lossy.rtp.framesLost}; bitrate steps: ${lossy.steps.join('; ') || 'none'}`));
      extras.outage = { cleanPictureMs: outage.rtp.cleanPictureMsMax, keyframeRequests: outage.rtp.keyframeRequests, framesLost: outage.rtp.framesLost, p95Ms: outage.latency.p95Ms };
      extras.loss5 = { intactPercent: percent(lossy.intact, lossy.framesSent), steps: lossy.steps.length, framesLost: lossy.rtp.framesLost };
    }
    if (!stopping && (ONLY === 'all' || ONLY === 'cpu')) {
      console.log('CPU of our code at 8 Mbit/s on loopback (the bench process: session, rtp sender, stamps; the peer process: rtp receiver, decoder feed, stamps)');
      const cpuRtp = await session('rtp', null, { bitrateKbps: 8000 });
      const cpuSrt = await session('srt', null, { bitrateKbps: 8000 });
      console.log(`  rtp    host ${cpuRtp.hostCpuPercent}%  peer ${cpuRtp.peerCpuPercent ?? '—'}% of one core`);
      console.log(`  srt    host ${cpuSrt.hostCpuPercent}%  peer ${cpuSrt.peerCpuPercent ?? '—'}% of one core (baseline: the same session code, libsrt doing the transport)`);
      extras.cpu = { rtpHostPercent: cpuRtp.hostCpuPercent, rtpPeerPercent: cpuRtp.peerCpuPercent, srtHostPercent: cpuSrt.hostCpuPercent, srtPeerPercent: cpuSrt.peerCpuPercent };
    }
    if (!stopping && (ONLY === 'all' || ONLY === 'audio')) {
      console.log('sound: a click on the host at the moment the stamped picture shows that time, heard at the peer (two PipeWire servers on this machine, loopback, 720p60)');
      const why = soundRigUnavailable();
      if (why) console.log(`  skipped: ${why}`);
      else {
        // rtp: the sound on its own socket; srt: inside the picture's MPEG-TS (each with its own floor, same run)
        // BENCH_AUDIO_TRANSPORT=rtp|srt: that one alone (back-to-back comparisons of one transport)
        for (const transport of TRANSPORT_NAMES.filter((name) => !process.env.BENCH_AUDIO_TRANSPORT || name === process.env.BENCH_AUDIO_TRANSPORT)) {
          if (stopping) break;
          const audio = await measureAudio({ cli, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, seconds: Math.max(SECONDS, 10), transport });
          const over = audio.latency.p50Ms === null || audio.floor.p50Ms === null ? null : Math.round((audio.latency.p50Ms / audio.floor.p50Ms) * 10) / 10;
          console.log(`  ${transport}`);
          console.log(`  floor  p50 ${ms(audio.floor.p50Ms).padStart(9)}  p95 ${ms(audio.floor.p95Ms).padStart(9)}  (the host's monitor piped straight into the peer's output: parec | pacat)`);
          console.log(`  ours   p50 ${ms(audio.latency.p50Ms).padStart(9)}  p95 ${ms(audio.latency.p95Ms).padStart(9)}  (goal p50 ≤ 40 ms) ×${over ?? '—'} the floor; ${audio.heard}/${audio.clicks} clicks heard, ${audio.concealedMs} ms concealed, ${audio.underruns} underruns${audio.error ? `  ERROR ${audio.error}` : ''}`);
          console.log(`  A/V    offset p50 ${ms(audio.offset.p50Ms)}, |offset| p95 ${ms(audio.offsetAbsP95Ms)} (goal within ±20 ms; + sound late), picture capture → decoded p50 ${ms(audio.videoP50Ms)}`);
          const split = audio.split;
          if (split) {
            // each stage's p50 after capture, and what it added to the one before
            let before = 0;
            for (const stage of split.stages) {
              const step = stage.p50Ms === null ? null : stage.p50Ms - before;
              console.log(`    ${stage.name.padEnd(9)} ${ms(stage.p50Ms).padStart(9)}  +${ms(step === null ? null : Math.round(step * 10) / 10).padStart(8)}  ${stage.what}`);
              if (stage.p50Ms !== null) before = stage.p50Ms;
            }
            console.log(`    written → heard per click p50 ${ms(split.sinkP50Ms)}; the playout's own delay p50 ${ms(split.ownP50Ms)}, its target ${ms(split.targetP50Ms)} (the rest waits for the picture, whose capture → decoded the peer sees at p50 ${ms(split.videoP50Ms)}); ${split.frames} frames`);
            console.log(`    the output held p50 ${split.queuedP50 ?? '—'} B, p95 ${split.queuedP95 ?? '—'} B when a frame was written (libpulse's stream as its server last reported it, 960 B a half frame; or what waited in front of pacat, by the kernel's count); ${split.dropped} frames dropped there, ${split.stale} not written (past their time)`);
          }
          extras[transport === 'rtp' ? 'audio' : `audio_${transport}`] = { latencyP50Ms: audio.latency.p50Ms, latencyP95Ms: audio.latency.p95Ms, floorP50Ms: audio.floor.p50Ms, overFloor: over, avOffsetP50Ms: audio.offset.p50Ms, avOffsetAbsP95Ms: audio.offsetAbsP95Ms, clicks: audio.clicks, heard: audio.heard, underruns: audio.underruns, split: audio.split, error: audio.error };
        }
      }
    }
    if (!stopping && (ONLY === 'all' || ONLY === 'browser')) {
      console.log('browser: Chromium watching over WebRTC (the Watch page\'s path: werift, the encoder\'s RTP as it is), against the native peer over rtp in the same run, loopback');
      const missing = browserMissing();
      if (missing) console.log(`  skipped: ${missing}`);
      else {
        const signed = (value: number | null) => (value === null ? '—' : `${value >= 0 ? '+' : ''}${value.toFixed(1)} ms`);
        // two sessions one after the other (the figure this case began with): the browser's at shown, the peer's at decode
        const native = await session('rtp', null);
        const inBrowser = await measureBrowser({ display: display.name, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, seconds: SECONDS });
        const rows = { native: latencyRow(native.latency, native.intact, native.framesSent, native.error), browser: latencyRow(inBrowser.latency, inBrowser.intact, inBrowser.framesSent, inBrowser.error, `${inBrowser.fpsReceived} fps read back; Chromium: ${inBrowser.steps[0] ?? '—'}`) };
        console.log('  two sessions in turn: the native peer (at decode), then Chromium (at shown)');
        for (const [name, row] of Object.entries(rows)) print(name, row);
        const gap = rows.browser.p50Ms === null || rows.native.p50Ms === null ? null : Math.round((rows.browser.p50Ms - rows.native.p50Ms) * 10) / 10;
        if (inBrowser.stages) {
          const decodedGap = inBrowser.stages.decodedP50Ms === null || rows.native.p50Ms === null ? null : inBrowser.stages.decodedP50Ms - rows.native.p50Ms;
          console.log(`  browser p50 ${ms(inBrowser.stages.decodedP50Ms)} at decoded, ${ms(inBrowser.stages.shownP50Ms)} at shown: ${signed(decodedGap)} at decoded, ${signed(gap)} at shown against the native peer's run (each run its own capture and encoder, at its own moment's load)`);
          console.log(`  ${inBrowser.stages.line}`);
          extras.browserDecodedOverNativeP50Ms = decodedGap;
        }
        // the same frames to both: one session, the native peer and Chromium its two viewers (one capture, one encoder)
        const shared = await measureBrowser({ display: display.name, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, seconds: SECONDS, peer: { cli, env } });
        const same = shared.stages?.sameFrames;
        if (shared.error || !same) console.log(`  one session, both viewers: ERROR ${shared.error ?? 'no figures'}`);
        else {
          console.log(`  one session, both viewers (${same.count} frames seen by both): native p50 ${ms(same.nativeP50Ms)} at decode; browser p50 ${ms(same.decodedP50Ms)} at decoded, ${ms(same.shownP50Ms)} at shown`);
          console.log(`  GOAL (judged at decoded, as the native figure is): per frame, browser minus native p50 ${signed(same.decodedGapP50Ms)} (within 10 ms: ${same.decodedGapP50Ms !== null && same.decodedGapP50Ms <= 10 ? 'yes' : 'NO'}); at shown ${signed(same.shownGapP50Ms)} (the display's own wait, which the peer's figure has none of)`);
          console.log(`  ${shared.stages!.line}`);
          extras.browserSameFrames = same;
        }
        // what reading the stamps costs the picture: read in every other half second of one session
        const alternating = await measureBrowser({ display: display.name, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, seconds: SECONDS, alternate: true });
        const own = alternating.stages?.reading;
        if (alternating.error || !own) console.log(`  stamps read every other half second: ERROR ${alternating.error ?? 'no figures'}`);
        else {
          console.log(`  stamps read every other half second (what reading them costs the picture; p50): received → presented ${ms(own.toPresentedRead)} read, ${ms(own.toPresentedNotRead)} not read; presented → shown ${ms(own.toShownRead)} read, ${ms(own.toShownNotRead)} not read (${own.framesRead} and ${own.framesNotRead} frames)`);
          extras.browserStampReading = own;
        }
        results.browser = rows;
        extras.browserOverNativeP50Ms = gap;
      }
    }
    if (!stopping && (ONLY === 'all' || ONLY === 'capture')) {
      console.log('capture sources, from a stamp drawn on the screen to the decoded picture (same encoder, plain UDP on loopback)');
      await animator?.stop(1000);
      animator = null;
      const configDir = mkdtempSync(join(tmpdir(), 'bench-capture-'));
      try {
        const rows = await measureCaptures({
          display: display.name, width: WIDTH, height: HEIGHT, fps: FPS, bitrateKbps, seconds: SECONDS, configDir,
          startX11Animator: async () => {
            const stamped = await startAnimator(display!.name, WIDTH, HEIGHT, FPS, { stamp: true });
            return { stop: () => stamped.stop(1000) };
          },
        });
        extras.capture = printCaptures(rows);
      } finally {
        rmSync(configDir, { recursive: true, force: true });
      }
    }
  } finally {
    if (!stopping) await cleanup();
  }
  if (stopping) return 130;
  console.log(`load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} at the end`);
  console.log(JSON.stringify({ bench: 'latency', size: `${WIDTH}x${HEIGHT}@${FPS}`, secondsPerRun: SECONDS, cpus: cpus().length, ...results, ...extras }));
  const failed = Object.values(results).some((rows) => Object.values(rows).some((row) => row.error));
  return failed ? 1 : 0;
}

if (process.argv[2] === 'relay') await relayMain(process.argv.slice(3));
else process.exit(await main());
