// bench/latency: the `browser` case. Our session code (StreamSession, as the app runs it) from the X display
// to Debian's Chromium over WebRTC (the WebRtcViewer the web shell uses), on loopback. The page shows the
// picture, reads each shown frame's stamp back from a canvas (requestVideoFrameCallback) and reports it on
// the 'report' data channel, so the latency comes from the same session code and stamps as the native
// peer's rtp run it is compared with.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { StreamSession } from '../src/core/sessions/stream-session';
import { WebRtcViewer } from '../src/core/webrtc/webrtc-viewer';
import { LocalViewer } from '../src/core/sessions/local-viewer';
import type { DecodedFrame } from '../src/core/sessions/stamp-reader';
import { stampAgeMs } from '../src/shared/stamp-code';
import type { SessionRunResult } from './latency-session';
import { recordSends, splitStages, type FrameTimes, type StageSplit } from './latency-browser-stages';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path)) ?? null;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs in the page: answers the host's offer, shows the track, reports each shown frame's stamp, answers pings. */
async function pageClient({ offerSdp, alternate }: { offerSdp: string; alternate: boolean }): Promise<string> {
  const pc = new RTCPeerConnection();
  (window as unknown as { benchPc: RTCPeerConnection }).benchPc = pc;
  const video = document.querySelector('video')!;
  const canvas = document.createElement('canvas');
  canvas.width = 256;
  canvas.height = 32;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  let report: RTCDataChannel | null = null;
  let pending: [number | null, number][] = [];
  const readStamp = (): number | null => {
    const h = video.videoHeight;
    if (h < 32) return null;
    context.drawImage(video, 0, h - 32, 256, 32, 0, 0, 256, 32);
    const rgba = context.getImageData(0, 0, 256, 32).data;
    let ms = 0;
    for (let bit = 0; bit < 32; bit += 1) {
      const row = Math.floor(bit / 16);
      const column = bit % 16;
      let sum = 0;
      for (let dy = 4; dy < 12; dy += 1) for (let dx = 4; dx < 12; dx += 1) {
        const i = ((row * 16 + dy) * 256 + column * 16 + dx) * 4;
        sum += (rgba[i]! + rgba[i + 1]! + rgba[i + 2]!) / 3;
      }
      const mean = sum / 64;
      if (mean > 64 && mean < 192) return null;
      if (mean >= 128) ms += 2 ** bit;
    }
    return ms;
  };
  const luma = new Uint8Array(256 * 32 * 2);
  /** The strip's luma straight from the decoded frame (WebCodecs): no conversion of the whole picture to RGB. */
  const readLuma = async (): Promise<number | null | undefined> => {
    if (typeof VideoFrame === 'undefined') return undefined;
    const frame = new VideoFrame(video);
    try {
      if (!frame.format || !/^(I420|NV12)/.test(frame.format)) return undefined;
      await frame.copyTo(luma, { rect: { x: 0, y: frame.codedHeight - 32, width: 256, height: 32 } });
    } finally {
      frame.close();
    }
    let ms = 0;
    for (let bit = 0; bit < 32; bit += 1) {
      const row = Math.floor(bit / 16);
      const column = bit % 16;
      let sum = 0;
      for (let dy = 4; dy < 12; dy += 1) for (let dx = 4; dx < 12; dx += 1) sum += luma[(row * 16 + dy) * 256 + column * 16 + dx]!;
      const mean = sum / 64;
      if (mean > 64 && mean < 192) return null;
      if (mean >= 128) ms += 2 ** bit;
    }
    return ms;
  };
  let useLuma = true;
  let lumaRead = false;
  let lumaFailures = 0;
  (window as unknown as { benchReadPath: () => string }).benchReadPath = () => (useLuma ? `luma straight from the decoded frame (${lumaFailures} frames through the canvas)` : 'canvas');
  // each shown frame's times from requestVideoFrameCallback, on the page's clock, for the stage split
  const stages: FrameTimes[] = [];
  (window as unknown as { benchStages: FrameTimes[] }).benchStages = stages;
  const onFrame = (now: number, metadata: VideoFrameCallbackMetadata) => {
    const origin = performance.timeOrigin;
    const shownAt = origin + metadata.expectedDisplayTime;
    const times: Omit<FrameTimes, 'stamp' | 'reading'> = {
      rtp: metadata.rtpTimestamp ?? null,
      received: metadata.receiveTime === undefined ? null : origin + metadata.receiveTime,
      processingMs: metadata.processingDuration === undefined ? null : metadata.processingDuration * 1000,
      presented: origin + metadata.presentationTime,
      callback: origin + now,
      shown: shownAt,
    };
    const record = (stamp: number | null) => {
      pending.push([stamp, shownAt]);
      if (stages.length < 5000) stages.push({ stamp, reading: true, ...times });
    };
    video.requestVideoFrameCallback(onFrame);
    // `alternate`: stamps read in every other half second only, to see what reading them costs the picture itself
    if (alternate && Math.floor(now / 500) % 2 === 1) {
      if (stages.length < 5000) stages.push({ stamp: null, reading: false, ...times });
      return;
    }
    if (useLuma) {
      // as the Watch page: the luma path is given up only when it never worked
      const fallback = () => {
        lumaFailures += 1;
        if (!lumaRead && lumaFailures >= 30) useLuma = false;
        record(readStamp());
      };
      void readLuma().then((stamp) => {
        if (stamp === undefined) fallback();
        else {
          lumaRead = true;
          record(stamp);
        }
      }, fallback);
      return;
    }
    record(readStamp());
  };
  pc.ontrack = (event) => {
    (event.receiver as RTCRtpReceiver & { jitterBufferTarget?: number }).jitterBufferTarget = 0;
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    void video.play();
    video.requestVideoFrameCallback(onFrame);
  };
  pc.ondatachannel = (event) => {
    if (event.channel.label !== 'report') return;
    report = event.channel;
    report.onmessage = (message) => {
      const data = JSON.parse(message.data as string) as { t: string; id?: number };
      if (data.t === 'ping') report!.send(JSON.stringify({ t: 'pong', id: data.id, at: performance.timeOrigin + performance.now() }));
    };
  };
  setInterval(() => {
    if (report?.readyState !== 'open' || pending.length === 0) return;
    report.send(JSON.stringify({ t: 'frames', frames: pending.splice(0, 480) }));
    pending = pending.slice(0);
  }, 100);
  await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 3000);
  });
  return pc.localDescription!.sdp;
}

export interface BrowserRunSpec {
  display: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  seconds: number;
  /** Stamps read in every other half second only (the split compares the browser's own stages with and without). */
  alternate?: boolean;
  /** The native peer (`gpu-bridge peer receive`) as a second viewer of the same session: both see the same frames. */
  peer?: { cli: string; env: NodeJS.ProcessEnv };
}

/** null: no Chromium here (the case is skipped, with why). */
export function browserMissing(): string | null {
  return CHROMIUM ? null : 'Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)';
}

/** `steps[0]`: the browser's own per-frame figures (getStats), where its share of the time goes. */
export async function measureBrowser(spec: BrowserRunSpec): Promise<SessionRunResult & { stages: StageSplit | null }> {
  let browser: Browser | null = null;
  const viewer = new WebRtcViewer({ name: 'bench browser', portRange: [52000, 52199], extraHostAddresses: ['127.0.0.1'], bitrateKbps: spec.bitrateKbps });
  const session = new StreamSession({
    source: { kind: 'x11', display: spec.display, x: 0, y: 0, width: spec.width, height: spec.height },
    fps: spec.fps, bitrateKbps: spec.bitrateKbps, encoder: 'libx264', transport: 'rtp', adaptive: false,
  });
  let error: string | null = null;
  let breakdown = '';
  let stages: StageSplit | null = null;
  const peer = spec.peer ? new LocalViewer({ file: process.execPath, args: [spec.peer.cli, 'peer', 'receive', '--headless'], env: spec.peer.env }, 'bench peer') : null;
  /** The native peer's age of each frame at decode (by stamp), over the measured window. */
  const nativeAges = new Map<number, number>();
  let measuring = false;
  peer?.link.on('frames', (frames: DecodedFrame[]) => {
    if (!measuring) return;
    const offset = peer.link.clock().offsetMs ?? 0;
    for (const frame of frames) if (frame.stampMs !== null) nativeAges.set(frame.stampMs, stampAgeMs(frame.stampMs, frame.decodedAt - offset));
  });
  try {
    if (peer) {
      await peer.ready;
      await session.addViewer(peer.link);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM!, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'],
    });
    const page = await browser.newPage();
    await page.setContent('<video muted playsinline autoplay style="width:100%"></video>');
    const offer = await viewer.offer();
    const joined = session.addViewer(viewer);
    const answer = await page.evaluate(pageClient, { offerSdp: offer, alternate: spec.alternate ?? false });
    const playoutDelay = /^a=extmap:\d+ http:\/\/www\.webrtc\.org\/experiments\/rtp-hdrext\/playout-delay/m.test(answer);
    await viewer.answer(answer);
    await joined;
    if (!viewer.sender) throw new Error('the session gave the browser viewer no RTP sink');
    const sends = recordSends(viewer.sender);
    const deadline = Date.now() + 15_000;
    while (session.firstFrameMs === null && Date.now() < deadline && session.state !== 'failed') await sleep(20);
    if (session.firstFrameMs === null) throw new Error(`no frame shown: ${session.reason ?? session.state}`);
    await sleep(1000);
    await page.evaluate(() => void ((window as unknown as { benchStages: FrameTimes[] }).benchStages.length = 0));
    measuring = true;
    await sleep(spec.seconds * 1000);
    measuring = false;
    if (session.state === 'failed') error = session.reason;
    const clock = viewer.clock();
    // the page's clock read directly, against the midpoint of the evaluate's round trip (± half of it), the shortest of 20
    let direct = { skew: 0, within: Infinity };
    for (let i = 0; i < 20; i += 1) {
      const before = performance.timeOrigin + performance.now();
      const pageClock = await page.evaluate(() => performance.timeOrigin + performance.now());
      const after = performance.timeOrigin + performance.now();
      if ((after - before) / 2 < direct.within) direct = { skew: pageClock - (before + after) / 2, within: (after - before) / 2 };
    }
    breakdown = `playout-delay extension ${playoutDelay ? 'accepted' : 'NOT accepted'} in Chromium's answer; clock offset estimated ${clock.offsetMs?.toFixed(1) ?? '—'} ms over the data channel (read directly: ${direct.skew.toFixed(1)} ± ${direct.within.toFixed(1)} ms), data-channel RTT ${clock.rttMs ?? '—'} ms; `;
    const frames = await page.evaluate(() => (window as unknown as { benchStages: FrameTimes[] }).benchStages);
    stages = splitStages(frames, sends, clock.offsetMs ?? 0, peer ? nativeAges : null);
    breakdown += await page.evaluate(async () => {
      const stats = await (window as unknown as { benchPc: RTCPeerConnection }).benchPc.getStats();
      let line = 'no inbound video';
      stats.forEach((entry: Record<string, number | string>) => {
        if (entry.type !== 'inbound-rtp' || entry.kind !== 'video') return;
        const n = (key: string) => Number(entry[key] ?? 0);
        const per = (total: string, count: string) => (n(count) > 0 ? `${((1000 * n(total)) / n(count)).toFixed(1)} ms` : '—');
        line = `stamps read from ${(window as unknown as { benchReadPath: () => string }).benchReadPath()}; decoded ${n('framesDecoded')}, dropped ${n('framesDropped')}, received ${n('framesReceived')}; per frame: jitter buffer ${per('jitterBufferDelay', 'jitterBufferEmittedCount')} (its target ${per('jitterBufferTargetDelay', 'jitterBufferEmittedCount')}, minimum ${per('jitterBufferMinimumDelay', 'jitterBufferEmittedCount')}), decode ${per('totalDecodeTime', 'framesDecoded')}, receive to decoded ${per('totalProcessingDelay', 'framesDecoded')}`;
      });
      return line;
    });
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  await sleep(300);
  const totals = session.totals();
  await session.stop('bench done');
  await browser?.close();
  await peer?.stop();
  return {
    latency: totals.latency, fpsReceived: totals.fpsReceived, framesSent: session.framesSent, intact: totals.framesDecoded - totals.unreadable, unreadable: totals.unreadable,
    startMs: session.firstFrameMs, rtp: totals.repairs, steps: [breakdown], hostCpuPercent: 0, peerCpuPercent: null, error, stages,
  };
}
