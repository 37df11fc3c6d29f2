import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb } from '../helpers/xvfb';
import { startXev, typedText } from '../helpers/xev';

const CLI = 'out/cli/index.mjs';
const tools = ['Xvfb', 'xdotool', 'xev'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (tools.length > 0) console.log(`SKIP input injection tests: missing ${tools.join(', ')} (apt-get install xvfb xdotool x11-utils)`);

interface Proc {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number, after?: number): Promise<string>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env, stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn('node', [CLI, ...args], { stdio: [stdin, 'pipe', 'pipe'], env });
  const lines: string[] = [];
  let pending = '';
  const onChunk = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout!.on('data', onChunk);
  child.stderr!.on('data', onChunk);
  return {
    child,
    lines,
    async waitFor(pattern, timeoutMs = 15_000, after = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.slice(after).find((line) => pattern.test(line));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

function cli(args: string[]) {
  return spawnSync('node', [CLI, ...args], { encoding: 'utf8' });
}

function pointer(display: string): { x: number; y: number } {
  const out = execFileSync('xdotool', ['getmouselocation'], { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' });
  const match = /x:(\d+) y:(\d+)/.exec(out)!;
  return { x: Number(match[1]), y: Number(match[2]) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(tools.length > 0)('input from the peer, injected on the host under Xvfb', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-input-'));
  const peerDir = join(root, 'peer');
  const hostDir = join(root, 'host');
  const xevLog = join(root, 'xev.log');
  const children: ChildProcess[] = [];
  let display = '';
  let peer: Proc;
  let host: Proc;

  const send = async (event: unknown) => {
    const before = peer.lines.length;
    peer.child.stdin!.write(`${JSON.stringify(event)}\n`);
    await peer.waitFor(/"event":"input-sent","hosts":1/, 5000, before);
  };

  beforeAll(async () => {
    execFileSync('node', ['scripts/build-cli.mjs'], { stdio: 'ignore' });
    const xvfb = await startXvfb();
    children.push(xvfb.child);
    display = xvfb.display;
    const xenv = { ...process.env, DISPLAY: display };
    const xev = startXev(display, '400x300+0+0', xevLog);
    children.push(xev);
    await sleep(500);
    // no window manager: keyboard focus follows the pointer (PointerRoot), so put it over xev's window
    execFileSync('xdotool', ['mousemove', '100', '100'], { env: xenv });
    peer = start(['peer', 'run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--name', 'cloudbox', '--input-from-stdin'], process.env, 'pipe');
    children.push(peer.child);
    await peer.waitFor(/^listening on /);
    const uri = JSON.parse(cli(['peer', 'pair', '--json', '--config-dir', peerDir]).stdout) as { uri: string };
    expect(cli(['pair', uri.uri, '--config-dir', hostDir]).status).toBe(0);
    host = start(['connect', 'cloudbox', '--config-dir', hostDir, '--json'], xenv);
    children.push(host.child);
    await host.waitFor(/"event":"online"/);
    await peer.waitFor(/"event":"connected"/);
  });

  afterAll(() => {
    for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGTERM');
  });

  it('injects nothing while the peer lacks the input scope (the default)', async () => {
    const before = host.lines.length;
    await send({ kind: 'text', text: 'nope' });
    await send({ kind: 'mouse.move', x: 300, y: 250 });
    await host.waitFor(/"event":"input","kind":"mouse.move","injected":false,"reason":"peer lacks the input scope"/, 5000, before);
    await sleep(300);
    expect(typedText(readFileSync(xevLog, 'latin1'))).toBe('');
    expect(pointer(display)).toEqual({ x: 100, y: 100 });
  });

  it('with the input scope: moves the pointer and types every printable character exactly', async () => {
    expect(cli(['pair', 'scopes', 'cloudbox', 'view,input', '--config-dir', hostDir]).status).toBe(0);
    await sleep(800); // the connect process re-reads scopes every 500 ms
    let before = host.lines.length;
    await send({ kind: 'mouse.move', x: 123, y: 87 });
    await host.waitFor(/"kind":"mouse.move","injected":true/, 5000, before);
    expect(pointer(display)).toEqual({ x: 123, y: 87 });
    let printable = '';
    for (let code = 32; code < 127; code += 1) printable += String.fromCharCode(code);
    before = host.lines.length;
    await send({ kind: 'text', text: printable });
    await host.waitFor(/"kind":"text","injected":true/, 10_000, before);
    await sleep(500);
    const typed = typedText(readFileSync(xevLog, 'latin1'));
    expect(typed).toBe(printable);
    console.log(`typed ${typed.length} printable characters exactly, verified from X (xev): ${JSON.stringify(typed)}`);
  });

  it('injects nothing after the kill switch', async () => {
    const typedBefore = typedText(readFileSync(xevLog, 'latin1'));
    host.child.kill('SIGUSR1');
    await host.waitFor(/"event":"killed"/, 5000);
    // the session is gone: the peer has no host to send to, and nothing reaches X
    const before = peer.lines.length;
    peer.child.stdin!.write(`${JSON.stringify({ kind: 'text', text: 'after-kill' })}\n`);
    peer.child.stdin!.write(`${JSON.stringify({ kind: 'mouse.move', x: 10, y: 10 })}\n`);
    await peer.waitFor(/"event":"input-sent"/, 5000, before);
    await sleep(1500);
    expect(typedText(readFileSync(xevLog, 'latin1'))).toBe(typedBefore);
    expect(pointer(display)).toEqual({ x: 123, y: 87 });
    const audit = readFileSync(join(hostDir, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"sharing.kill"/);
    expect(audit).toMatch(/"action":"input.inject".*"result":"refused"/);
    expect(audit).toMatch(/"action":"peer.scopes".*grant \[input\]/);
  });
});
