// bench/latency: the capture sources at 1280x720@60, capture-to-decode from a stamp drawn on the screen
// itself (the animator draws its frame's wall-clock time into the picture; the receiver reads it back from
// the decoded picture), so the figure includes the desktop's own path: the X server or the compositor, and
// for Wayland PipeWire (or wlr-screencopy), the conversion and the pipe to the encoder. Each source feeds
// the same encoder settings and plain UDP (the floor's transport). x11grab on the bench's Xvfb; gnome
// (Mutter's ScreenCast → PipeWire → pipewiresrc) on a headless mutter; wlroots (wf-recorder) on a headless
// sway. The portal source hands over the same Mutter PipeWire stream as gnome on GNOME (its backend asks
// Mutter for it), so its frames take gnome's path; it is not run here (its caller must be the desktop user).
import { Writable } from 'node:stream';
import { openCapture, type OpenedCapture } from '../src/core/capture/open-capture';
import { freeUdpPort } from '../src/core/net/free-udp-port';
import { buildReceiverArgs, buildSenderArgs, type CaptureSource } from '../src/core/sessions/pipeline';
import { summarize, type LatencySummary } from '../src/core/sessions/quantiles';
import { newPassphrase } from '../src/core/srt/srt-url';
import { readStamp, stampAgeMs, stampCropFilter, STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH } from '../src/core/sessions/stamp';
import { rigUnavailable, startGnomeRig, startSwayRig, startWaylandAnimator, type Rig } from '../tests/helpers/wayland-rig';
import { measureRun, type RunResult } from './latency-measure';

export interface CaptureRow {
  run: RunResult | null;
  /** Wayland: the on-screen stamp's age when its frame reached our feed (compositor, PipeWire or screencopy, conversion, pipe). */
  toFeed: LatencySummary | null;
  /** Frames the feed sent again because none came in time (a still screen; none expected here). */
  feedRepeated: number | null;
  skipped: string | null;
}

/** The on-screen stamp: the picture's bottom 32 rows, above the strip the host adds. */
const ON_SCREEN_CROP = `crop=${STAMP_STRIP_WIDTH}:${STAMP_STRIP_HEIGHT}:0:ih-${2 * STAMP_STRIP_HEIGHT},format=gray`;

function argsFor(source: CaptureSource, fps: number, bitrateKbps: number, sendTo: number, listenOn: number): { sender: string[]; receiver: string[] } {
  const sender = buildSenderArgs({ source, fps, bitrateKbps, encoder: 'libx264', outputs: [{ host: '127.0.0.1', port: sendTo, passphrase: newPassphrase(), latencyMs: 0 }] });
  sender[sender.length - 1] = `udp://127.0.0.1:${sendTo}?pkt_size=1316`;
  const receiver = buildReceiverArgs({ display: false, input: 'pipe' });
  receiver[receiver.indexOf('pipe:0')] = `udp://127.0.0.1:${listenOn}?fifo_size=100000&overrun_nonfatal=1`;
  receiver[receiver.indexOf(stampCropFilter())] = ON_SCREEN_CROP;
  return { sender, receiver };
}

/** Reads the on-screen stamp from each raw I420 frame the feed hands out (its Y plane), once per stamp. */
function feedStampAges(capture: OpenedCapture, width: number, height: number): { ages: number[]; detach: () => void } {
  const ages: number[] = [];
  let last: number | null = null;
  const strip = new Uint8Array(STAMP_STRIP_WIDTH * STAMP_STRIP_HEIGHT);
  const sink = new Writable({
    write(frame: Buffer, _encoding, done) {
      const now = Date.now();
      for (let row = 0; row < STAMP_STRIP_HEIGHT; row += 1) {
        const from = (height - STAMP_STRIP_HEIGHT + row) * width;
        strip.set(frame.subarray(from, from + STAMP_STRIP_WIDTH), row * STAMP_STRIP_WIDTH);
      }
      const read = readStamp(strip);
      if (read.ok && read.ms !== last) {
        last = read.ms;
        ages.push(stampAgeMs(read.ms, now));
      }
      done();
    },
  });
  return { ages, detach: capture.feed!.attach(sink) };
}

async function measureFeedCase(capture: OpenedCapture, spec: { width: number; height: number; fps: number; bitrateKbps: number; seconds: number; env: NodeJS.ProcessEnv }): Promise<CaptureRow> {
  const port = await freeUdpPort('127.0.0.1');
  const { sender, receiver } = argsFor(capture.source, spec.fps, spec.bitrateKbps, port, port);
  const repeatedBefore = capture.feed!.counts.framesRepeated;
  const stamps = feedStampAges(capture, spec.width, spec.height);
  const run = await measureRun({ senderArgs: sender, receiverArgs: receiver, port, env: spec.env, seconds: spec.seconds, firstFrameTimeoutS: 25, feed: capture.feed! });
  stamps.detach();
  // the first second is the start-up: leave it out, as the runs do
  const settled = stamps.ages.slice(spec.fps);
  return { run, toFeed: summarize(settled), feedRepeated: capture.feed!.counts.framesRepeated - repeatedBefore, skipped: null };
}

async function withRig<T extends { rig: Rig }>(start: () => Promise<T>, body: (rig: T) => Promise<CaptureRow>): Promise<CaptureRow> {
  const started = await start();
  try {
    return await body(started);
  } finally {
    await started.rig.stop();
  }
}

export async function measureCaptures(spec: { display: string; width: number; height: number; fps: number; bitrateKbps: number; seconds: number; configDir: string; startX11Animator: () => Promise<{ stop: () => Promise<void> }> }): Promise<Record<string, CaptureRow>> {
  const rows: Record<string, CaptureRow> = {};
  const base = { width: spec.width, height: spec.height, fps: spec.fps, bitrateKbps: spec.bitrateKbps, seconds: spec.seconds };
  const animator = await spec.startX11Animator();
  try {
    const port = await freeUdpPort('127.0.0.1');
    const { sender, receiver } = argsFor({ kind: 'x11', display: spec.display, x: 0, y: 0, width: spec.width, height: spec.height }, spec.fps, spec.bitrateKbps, port, port);
    rows.x11grab = { run: await measureRun({ senderArgs: sender, receiverArgs: receiver, port, env: { ...process.env, DISPLAY: spec.display }, seconds: spec.seconds, firstFrameTimeoutS: 25 }), toFeed: null, feedRepeated: null, skipped: null };
  } finally {
    await animator.stop();
  }
  /** One Wayland source on its own headless compositor, the stamped client full screen on it. */
  const waylandCase = async (kind: 'gnome' | 'wlroots', startRig: () => Promise<{ rig: Rig }>): Promise<CaptureRow> => {
    const skipped = rigUnavailable(kind === 'gnome' ? 'gnome' : 'sway');
    if (skipped) return { run: null, toFeed: null, feedRepeated: null, skipped };
    return withRig(startRig, async ({ rig }) => {
      startWaylandAnimator(rig, spec.width, spec.height, spec.fps, { stamp: true });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const env = { ...process.env, ...rig.env };
      const capture = await openCapture({ kind, width: spec.width, height: spec.height, fps: spec.fps }, { env, configDir: spec.configDir });
      try {
        return await measureFeedCase(capture, { ...base, env });
      } finally {
        await capture.close();
      }
    });
  };
  rows.gnome = await waylandCase('gnome', () => startGnomeRig({ width: spec.width, height: spec.height, portal: false }));
  rows.wlroots = await waylandCase('wlroots', () => startSwayRig({ width: spec.width, height: spec.height }));
  return rows;
}
