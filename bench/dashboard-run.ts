// bench/dashboard: 8 GPUs × the dashboard's series at 1 Hz with 1 h of history, in Debian's Chromium.
// The real `gpu-bridge serve` runs the real sampler over the NVML stub (NVML_STUB_GPUS=8). The browser
// talks to it through a small proxy here that passes HTTP and WebSocket traffic through unchanged except
// the answer to `metrics.history`, which it fills with one full hour per GPU (the sampler cannot have an
// hour of its own in a benchmark); live batches then arrive from the sampler at 1 Hz. (A proxy, not
// Playwright's routeWebSocket: that one delivers every frame through script injected in the page, which
// would add its own main-thread time to what is measured.)
// Measured per page: main-thread task time per update (CDP Performance.getMetrics TaskDuration, in
// thread time, over the measured seconds / batches received) and long tasks over 50 ms
// (PerformanceObserver 'longtask').
//   ours:     the Dashboard page (LiveSeries outside React; charts update their columns in place and
//             redraw only on screen, at most once per pixel of time), with the 1 min and the 1 h window
//   floor:    the same app on its GPUs page (the same batches arrive, no chart exists): what Chromium and
//             the app spend per second anyway; "net" figures subtract it, and the goal is judged on them
// Chart redraws are counted by wrapping CanvasRenderingContext2D.clearRect (uPlot clears the whole
// canvas once per redraw), to tell the cost per redraw from the cost per update.
//   baseline: bench/dashboard-naive.tsx (history in React state, re-render per batch, setData with
//             freshly built full arrays), same server, same data, 1 h window
// Run with `node bench/dashboard.mjs`. Prints its figures, then one JSON line with the ratios.
// Diagnostics: BENCH_TRACE=1 prints each case's main-thread time per update by trace event (Commit,
// FunctionCall, PrePaint…), BENCH_PROFILE=1 the JavaScript functions with the most self time,
// BENCH_VH=N a viewport N px high (fewer charts on screen).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import WebSocket, { WebSocketServer } from 'ws';
import { launchChromium } from '../tests/helpers/browser';

const repo = process.env.BENCH_REPO ?? process.cwd();
const stub = process.env.BENCH_NVML_STUB ?? '';
const naiveJs = process.env.BENCH_NAIVE_JS ?? '';
const GPUS = 8;
const HISTORY_S = 3600;
const MEASURE_S = Number(process.env.BENCH_MEASURE_S ?? 20);
const WARMUP_S = 4;

interface Figures {
  updates: number;
  redraws: number;
  msPerUpdate: number;
  /** Of msPerUpdate: script, style recalculation and layout (the rest is paint recording, GC and the like). */
  split: { script: number; style: number; layout: number };
  longTasks: number;
  longestTaskMs: number;
}

function startServe(): Promise<{ url: string; origin: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(repo, 'out/cli/index.mjs'), 'serve', '--port', '0'], {
    env: { ...process.env, GPU_BRIDGE_NVML_LIB: stub, NVML_STUB_GPUS: String(GPUS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${text}`)), 20_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const origin = text.match(/listening on (\S+)/)?.[1];
      const url = text.match(/^\s+(\S+\?token=\S+)$/m)?.[1];
      if (origin && url) {
        clearTimeout(timer);
        resolve({ url, origin, stop: () => child.kill('SIGTERM') });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${text}`)));
  });
}

/** One hour at 1 Hz ending one second before `endMs`, every key the sampler sends, plausible shapes. */
function syntheticSeries(address: string, name: string | null, endMs: number) {
  const wave = (i: number, period: number, lo: number, hi: number) => Math.round((lo + (hi - lo) * (0.5 + 0.5 * Math.sin((2 * Math.PI * i) / period))) * 10) / 10;
  const keys: Record<string, (i: number) => number> = {
    gpuUtilPercent: (i) => wave(i, 97, 0, 100),
    memoryUtilPercent: (i) => wave(i, 131, 0, 60),
    encoderUtilPercent: (i) => wave(i, 211, 0, 80),
    decoderUtilPercent: (i) => wave(i, 307, 0, 20),
    memoryUsedBytes: (i) => Math.round(wave(i, 601, 1, 40) * 2 ** 30),
    memoryTotalBytes: () => 48 * 2 ** 30,
    temperatureC: (i) => Math.round(wave(i, 900, 35, 80)),
    powerW: (i) => wave(i, 173, 60, 350),
    powerLimitW: () => 350,
    graphicsClockMHz: (i) => Math.round(wave(i, 97, 210, 2520)),
    memoryClockMHz: () => 9001,
    fanPercent: (i) => Math.round(wave(i, 900, 30, 80)),
    encoderSessions: (i) => Math.floor(i / 600) % 4,
  };
  const t: number[] = [];
  const values: Record<string, number[]> = Object.fromEntries(Object.keys(keys).map((k) => [k, []]));
  for (let i = 0; i < HISTORY_S; i += 1) {
    t.push(endMs - (HISTORY_S - i) * 1000);
    for (const [k, f] of Object.entries(keys)) values[k]!.push(f(i));
  }
  return { address, name, t, values };
}

/**
 * HTTP and WebSocket pass-through to `upstream` on a port of its own, replacing the answer to
 * metrics.history; also serves the baseline page at /bench-naive. Counts the metrics batches it forwards.
 */
async function startProxy(upstream: string, naivePage: string): Promise<{ origin: string; batches: () => number; close: () => void }> {
  const up = new URL(upstream);
  let batches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/bench-naive.js')) return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(naiveJs));
    if (req.url?.startsWith('/bench-naive')) return res.writeHead(200, { 'content-type': 'text/html' }).end(naivePage);
    const forward = httpRequest({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...req.headers, host: up.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      const target = new WebSocket(`ws://${up.host}${req.url}`, { headers: { origin: up.origin } });
      const queued: string[] = [];
      const historyIds = new Set<unknown>();
      client.on('message', (data) => {
        const text = data.toString();
        try {
          const message = JSON.parse(text);
          if (message.method === 'metrics.history') historyIds.add(message.id);
        } catch {
          /* passed on as it is */
        }
        if (target.readyState === WebSocket.OPEN) target.send(text);
        else queued.push(text);
      });
      target.on('open', () => queued.splice(0).forEach((text) => target.send(text)));
      target.on('message', (data) => {
        let text = data.toString();
        if (text.startsWith('{"event":"metrics.batch"')) batches += 1;
        else if (text.includes('"series"')) {
          const answer = JSON.parse(text);
          if (historyIds.has(answer.id) && answer.result?.series) {
            const end = Date.now();
            answer.result.series = answer.result.series.map((s: { address: string; name: string | null }) => syntheticSeries(s.address, s.name, end));
            text = JSON.stringify(answer);
          }
        }
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
      client.on('close', () => target.close());
      target.on('close', () => client.close());
      target.on('error', () => client.close());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    batches: () => batches,
    close: () => {
      wss.close();
      server.closeAllConnections();
      server.close();
    },
  };
}

const LONG_TASKS = `window.__longTasks = []; window.__redraws = 0;
{ const clear = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (x, y, w, h) { if (x === 0 && y === 0 && w === this.canvas.width && h === this.canvas.height) window.__redraws += 1; return clear.call(this, x, y, w, h); }; }
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration }); })
  .observe({ type: 'longtask', buffered: true });`;

/** BENCH_PROFILE=1: the functions with the most self time per update, from a sampled CPU profile. */
function printProfile(label: string, profile: { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples?: number[]; timeDeltas?: number[] }, updates: number): void {
  const self = new Map<string, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const [i, id] of (profile.samples ?? []).entries()) {
    const node = byId.get(id);
    if (!node) continue;
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas?.[i] ?? 0) / 1000);
  }
  console.log(`  profile of ${label}: self time per update`);
  for (const [key, ms] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`    ${(ms / Math.max(1, updates)).toFixed(3)} ms  ${key}`);
}

/** BENCH_TRACE=1: time per update of each kind of event on the page's main thread (self time: children subtracted). */
function printTrace(label: string, trace: { traceEvents: Array<{ name: string; ph: string; dur?: number; tdur?: number; tid: number; pid: number; ts: number; args?: { name?: string } }> }, updates: number): void {
  const events = trace.traceEvents;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return;
  const own = events.filter((e) => e.ph === 'X' && e.pid === main.pid && e.tid === main.tid && e.tdur !== undefined).sort((a, b) => a.ts - b.ts);
  const total = new Map<string, number>();
  const stack: Array<{ end: number; name: string }> = [];
  for (const e of own) {
    while (stack.length > 0 && stack[stack.length - 1]!.end <= e.ts) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent) total.set(parent.name, (total.get(parent.name) ?? 0) - (e.tdur ?? 0) / 1000);
    total.set(e.name, (total.get(e.name) ?? 0) + (e.tdur ?? 0) / 1000);
    stack.push({ end: e.ts + (e.dur ?? 0), name: e.name });
  }
  console.log(`  trace of ${label}: main-thread self time per update, by event`);
  for (const [name, ms] of [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${(ms / Math.max(1, updates)).toFixed(3)} ms  ${name}`);
}

async function measure(page: Page, batches: () => number, label: string): Promise<Figures> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  await page.waitForTimeout(WARMUP_S * 1000);
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const taskSeconds = async () => {
    const m = await metrics();
    return { task: m.TaskDuration ?? 0, script: m.ScriptDuration ?? 0, style: m.RecalcStyleDuration ?? 0, layout: m.LayoutDuration ?? 0 };
  };
  const redraws = () => page.evaluate(() => (window as unknown as { __redraws: number }).__redraws);
  const r0 = await redraws();
  const since = await page.evaluate(() => performance.now());
  const t0 = await taskSeconds();
  const b0 = batches();
  const profiling = process.env.BENCH_PROFILE === '1';
  const tracing = process.env.BENCH_TRACE === '1';
  if (tracing) await page.context().browser()?.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  if (profiling) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
  }
  await page.waitForTimeout(MEASURE_S * 1000);
  const t1 = await taskSeconds();
  if (profiling) printProfile(label, (await cdp.send('Profiler.stop')).profile, batches() - b0);
  if (tracing) printTrace(label, JSON.parse((await page.context().browser()!.stopTracing()).toString('utf8')), batches() - b0);
  const updates = batches() - b0;
  const redrawn = (await redraws()) - r0;
  const long = await page.evaluate((from) => (window as unknown as { __longTasks: Array<{ start: number; duration: number }> }).__longTasks.filter((e) => e.start >= from), since);
  await cdp.detach();
  const figures = {
    updates,
    redraws: redrawn / Math.max(1, updates),
    msPerUpdate: updates > 0 ? ((t1.task - t0.task) * 1000) / updates : NaN,
    split: {
      script: ((t1.script - t0.script) * 1000) / Math.max(1, updates),
      style: ((t1.style - t0.style) * 1000) / Math.max(1, updates),
      layout: ((t1.layout - t0.layout) * 1000) / Math.max(1, updates),
    },
    longTasks: long.length,
    longestTaskMs: long.reduce((max, e) => Math.max(max, e.duration), 0),
  };
  console.log(
    `${label.padEnd(58)} ${figures.msPerUpdate.toFixed(2).padStart(7)} ms main thread/update  ` +
      `${figures.redraws.toFixed(1).padStart(5)} chart redraws/update  ` +
      `${String(figures.longTasks).padStart(2)} long tasks over 50 ms${figures.longTasks ? ` (longest ${figures.longestTaskMs.toFixed(0)} ms)` : ''}  (n=${updates}; ` +
      `script ${figures.split.script.toFixed(2)}, style ${figures.split.style.toFixed(2)}, layout ${figures.split.layout.toFixed(2)} ms)`,
  );
  return figures;
}

const css = readdirSync(join(repo, 'out/renderer/assets'))
  .filter((f) => f.endsWith('.css'))
  .map((f) => readFileSync(join(repo, 'out/renderer/assets', f), 'utf8'))
  .join('\n');
const naiveHtml = `<!doctype html><html><head><meta charset="utf-8"><style>${css}</style></head><body><div id="root"></div><script src="/bench-naive.js"></script></body></html>`;

const serve = await startServe();
const proxy = await startProxy(serve.origin, naiveHtml);
const browser = await launchChromium();
const token = new URL(serve.url).searchParams.get('token') ?? '';
const viewport = { width: 1400, height: Number(process.env.BENCH_VH ?? 900) };
try {
  console.log(`bench/dashboard: ${GPUS} GPUs (NVML stub, real sampler at 1 Hz), 4 charts and 8 series per GPU, ${HISTORY_S} s of history, viewport ${viewport.width}×${viewport.height}; ${MEASURE_S} s measured per case`);
  const ours: Record<string, Figures> = {};
  for (const window of ['floor', '1 min', '1 h']) {
    const page = await browser.newPage({ viewport });
    await page.addInitScript(LONG_TASKS);
    await page.goto(`${proxy.origin}/?token=${token}`);
    await page.getByRole('region').nth(GPUS - 1).waitFor();
    if (window === 'floor') await page.goto(`${proxy.origin}/?token=${token}#/gpus`);
    else await page.getByRole('button', { name: window }).click();
    ours[window] = await measure(page, proxy.batches, window === 'floor' ? 'floor: same app on the GPUs page, no chart' : `ours: Dashboard page, ${window} window`);
    await page.close();
  }

  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => console.error(`baseline page error: ${error.message}`));
  await page.addInitScript(LONG_TASKS);
  await page.goto(`${proxy.origin}/bench-naive?token=${token}`);
  await page.locator('.card').nth(GPUS - 1).waitFor();
  const naive = await measure(page, proxy.batches, 'baseline: React state per batch + setData(full arrays), 1 h');
  await page.close();

  const floor = ours.floor!.msPerUpdate;
  const net = (f: Figures) => Math.max(0, f.msPerUpdate - floor);
  const round = (n: number) => Number(n.toFixed(3));
  console.log(
    `net of the floor: ours ${net(ours['1 min']!).toFixed(2)} ms (1 min), ${net(ours['1 h']!).toFixed(2)} ms (1 h); ` +
      `baseline ${net(naive).toFixed(2)} ms (1 h); per chart redraw ${(net(ours['1 min']!) / Math.max(0.01, ours['1 min']!.redraws)).toFixed(2)} ms`,
  );
  const longTasks = ours['1 min']!.longTasks + ours['1 h']!.longTasks;
  const goal = Math.max(net(ours['1 min']!), net(ours['1 h']!)) < 4 && longTasks === 0;
  console.log(`goal (under 4 ms main-thread time per update net of the floor, no long task): ${goal ? 'met' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      bench: 'dashboard',
      gpus: GPUS,
      historyS: HISTORY_S,
      floorMsPerUpdate: round(floor),
      ours1minMsPerUpdate: round(ours['1 min']!.msPerUpdate),
      ours1hMsPerUpdate: round(ours['1 h']!.msPerUpdate),
      baseline1hMsPerUpdate: round(naive.msPerUpdate),
      ours1minNetMs: round(net(ours['1 min']!)),
      ours1hNetMs: round(net(ours['1 h']!)),
      baseline1hNetMs: round(net(naive)),
      oursRedrawsPerUpdate1min: round(ours['1 min']!.redraws),
      oursRedrawsPerUpdate1h: round(ours['1 h']!.redraws),
      oursLongTasks: longTasks,
      baselineLongTasks: naive.longTasks,
      baselineOverOurs1h: round(naive.msPerUpdate / ours['1 h']!.msPerUpdate),
      baselineOverOurs1hNet: round(net(naive) / Math.max(0.001, net(ours['1 h']!))),
      goalMet: goal,
    }),
  );
} finally {
  await browser.close();
  proxy.close();
  serve.stop();
}
