// bench/idle: what a host (`gpu-bridge serve`) and a peer (`gpu-bridge peer run`) cost while paired and
// connected with no session (the normal state of a cloud instance): CPU ticks (1/100 s) and log lines over
// a measured window after a warm-up, against the baseline of two plain Node processes holding one TLS
// connection between them, in the same run. Goal (issue 13): at most 0.05% of a core each, no log line.
// Usage: node bench/idle.mjs (BENCH_IDLE_SECONDS=N: the measured window, default 30; BENCH_IDLE_WARMUP=N: 20)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const CLI = join(repo, 'out', 'cli', 'index.mjs');
const SECONDS = Math.max(5, Number(process.env.BENCH_IDLE_SECONDS ?? 30) || 30);
const WARMUP = Math.max(5, Number(process.env.BENCH_IDLE_WARMUP ?? 20) || 20);
const root = mkdtempSync(join(tmpdir(), 'gb-bench-idle-'));
const children = [];

function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function start(file, args, env = {}) {
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  children.push(child);
  return { child, output: () => output, lines: () => output.split('\n').filter(Boolean).length };
}

async function waitFor(proc, pattern, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!pattern.test(proc.output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${proc.output().slice(-300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return pattern.exec(proc.output());
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// the baseline: a TLS server and a client holding one connection, doing nothing, two plain Node processes
// (the server presents the peer's own key and certificate, which `peer run` wrote)
const TLS_PAIR = `
const tls = require('node:tls'), fs = require('node:fs');
if (process.argv[1] === 'server') {
  const dir = process.argv[2];
  const server = tls.createServer({ key: fs.readFileSync(dir + '/key.pem'), cert: fs.readFileSync(dir + '/cert.pem'), minVersion: 'TLSv1.3' }, (socket) => socket.on('error', () => {}));
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
} else {
  const socket = tls.connect({ host: '127.0.0.1', port: Number(process.argv[1]), rejectUnauthorized: false }, () => console.log('connected'));
  socket.on('error', () => {});
}`;

try {
  execFileSync(process.execPath, [join(repo, 'scripts', 'build-cli.mjs')], { stdio: 'ignore' });
  console.log(`bench/idle: paired and connected, no session; ${WARMUP} s warm-up, then ${SECONDS} s measured (1 tick = 10 ms of CPU)`);
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  const peer = start(process.execPath, [CLI, 'peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--headless']);
  await waitFor(peer, /listening on /);
  const uri = JSON.parse(execFileSync(process.execPath, [CLI, 'peer', 'pair', '--json', '--config-dir', peerDir], { encoding: 'utf8' }).trim().split('\n').pop()).uri;
  execFileSync(process.execPath, [CLI, 'pair', uri, '--json', '--config-dir', hostDir, '--name', 'workstation'], { stdio: 'ignore' });
  const host = start(process.execPath, [CLI, 'serve', '--port', '0'], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: join(root, 'host-state') });
  await waitFor(host, /listening on /);
  await waitFor(peer, /"event":"connected"/);
  const server = start(process.execPath, ['-e', TLS_PAIR, 'server', peerDir]);
  const [, port] = await waitFor(server, /port (\d+)/);
  const client = start(process.execPath, ['-e', TLS_PAIR, port]);
  await waitFor(client, /connected/);
  await sleep(WARMUP * 1000);
  const procs = { host, peer, 'TLS server': server, 'TLS client': client };
  const before = Object.fromEntries(Object.entries(procs).map(([name, p]) => [name, { ticks: ticks(p.child.pid), lines: p.lines() }]));
  await sleep(SECONDS * 1000);
  const result = {};
  for (const [name, p] of Object.entries(procs)) {
    const used = ticks(p.child.pid) - before[name].ticks;
    const percent = (used * 10) / (SECONDS * 1000) * 100;
    result[name] = { ticks: used, percent: Number(percent.toFixed(3)), lines: p.lines() - before[name].lines };
    console.log(`  ${name.padEnd(11)} ${String(used).padStart(3)} ticks  ${percent.toFixed(3)}% of a core  ${result[name].lines} log lines`);
  }
  const baseline = (result['TLS server'].ticks + result['TLS client'].ticks) / 2;
  const goal = (SECONDS * 1000 * 0.0005) / 10;
  for (const name of ['host', 'peer']) console.log(`  ${name}: ${result[name].ticks} ticks against the baseline's ${baseline} (goal: at most ${goal} ticks, 0.05%, and no log line): ${result[name].ticks <= goal && result[name].lines === 0 ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify({ bench: 'idle', seconds: SECONDS, ...result, baselineTicks: baseline, goalTicks: goal }));
} finally {
  for (const child of children) child.kill('SIGTERM');
  await sleep(300);
  rmSync(root, { recursive: true, force: true });
}
