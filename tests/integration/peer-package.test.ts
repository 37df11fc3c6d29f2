import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openApi } from '../helpers/api-client';
import { cliJson, startServe, type ServeHandle } from '../helpers/spawn-cli';
import { until } from '../helpers/until';

const repo = resolve(__dirname, '../..');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const which = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
const missing = ['ffmpeg', 'setpriv', 'tar'].filter((tool) => !which(tool));
const supported = process.platform === 'linux' && process.arch === 'x64';
if (!supported) console.warn(`SKIP peer package tests: the package is built for linux-x64 only (this is ${process.platform}-${process.arch})`);
if (missing.length) console.warn(`SKIP peer package tests: missing ${missing.join(', ')} (CI installs them with .ci/run)`);
const hasAnalyze = Boolean(which('systemd-analyze'));
if (!hasAnalyze) console.warn('SKIP the systemd unit checks: systemd-analyze is missing (Debian package systemd; CI installs it with .ci/run)');

describe.skipIf(!supported || missing.length > 0)('npm run dist:peer: one executable for a cloud instance without Node.js', () => {
  const root = mkdtempSync(join(tmpdir(), 'gb-peer-package-'));
  const unpacked = join(root, 'unpacked');
  const pathDir = join(root, 'bin');
  let peerDir: string;
  let env: NodeJS.ProcessEnv;
  let run: ChildProcess | null = null;
  let serve: ServeHandle | null = null;

  const peerBin = () => join(unpacked, `gpu-bridge-peer-${version}-linux-x64`, 'gpu-bridge-peer');
  const peer = (args: string[]) => execFileSync(peerBin(), args, { encoding: 'utf8', env, timeout: 20_000 });

  beforeAll(() => {
    execFileSync(process.execPath, [join(repo, 'scripts', 'dist-peer.mjs'), '--out', join(root, 'dist')], { stdio: 'inherit', timeout: 300_000 });
    const tarball = join(root, 'dist', `gpu-bridge-peer-${version}-linux-x64.tar.gz`);
    expect(existsSync(tarball)).toBe(true);
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    // a PATH with ffmpeg and setpriv, and no node
    mkdirSync(pathDir);
    for (const tool of ['ffmpeg', 'setpriv']) symlinkSync(which(tool), join(pathDir, tool));
    peerDir = join(root, 'peer-config');
    env = { PATH: pathDir, HOME: root, LANG: 'C.UTF-8' };
    expect(spawnSync('sh', ['-c', 'command -v node'], { env }).status).not.toBe(0);
  }, 300_000);

  afterAll(async () => {
    await serve?.cli.stop();
    run?.kill('SIGTERM');
  });

  it('holds the executable, install.sh, the unit, koffi and the native rtp data plane, and runs with no node on the PATH', () => {
    const dir = join(unpacked, `gpu-bridge-peer-${version}-linux-x64`);
    expect(readdirSync(dir).sort()).toEqual(['README.txt', 'VERSION', 'gpu-bridge-peer', 'gpu-bridge-peer.service', 'install.sh', 'native', 'node_modules']);
    expect(readdirSync(join(dir, 'native'))).toEqual(['libgpubridge-rtp.so']);
    expect(peer(['--version']).trim()).toBe(version);
    const help = peer(['--help']);
    for (const sub of ['run', 'pair', 'list', 'revoke', '--watch']) expect(help).toContain(sub);
    // nothing of the desktop app: no serve, no passthrough
    expect(help).not.toMatch(/serve|passthrough/);
  });

  it('runs, pairs with the host CLI of this repository, and a short session to it decodes frames', async () => {
    run = spawn(peerBin(), ['run', '--port', '0', '--listen', '127.0.0.1', '--config-dir', peerDir, '--json', '--headless', '--name', 'packaged'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    run.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    run.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until('the packaged peer listening', () => /listening on /.test(output), 20_000);
    const pairing = JSON.parse(peer(['pair', '--json', '--config-dir', peerDir]).trim().split('\n').at(-1)!) as { uri: string };
    expect(pairing.uri).toMatch(/^gpubridge:\/\/pair/);
    const hostDir = join(root, 'host');
    cliJson(['pair', pairing.uri, '--json', '--config-dir', hostDir, '--name', 'workstation']);
    serve = await startServe([], { GPU_BRIDGE_CONFIG_DIR: hostDir, GPU_BRIDGE_STATE_DIR: join(root, 'host-state') });
    const { ws, call } = await openApi(serve);
    try {
      await until('the packaged peer online', async () => ((await call('peers.list', {})) as Array<{ online: boolean }>)[0]?.online, 20_000);
      await call('sharing.set', { sharing: true });
      const started = (await call('sessions.start', { peer: 'packaged', width: 640, height: 360, fps: 30, source: { kind: 'test' } })) as { id: string; transport: string };
      expect(started.transport).toBe('rtp');
      await until('frames decoded by the packaged peer', async () => {
        const session = ((await call('sessions.list', {})) as Array<{ id: string; framesDecoded: number }>).find((s) => s.id === started.id);
        return (session?.framesDecoded ?? 0) > 60;
      }, 30_000);
      await call('sessions.stop', { id: started.id });
    } finally {
      ws.close();
    }
    // the packaged peer received it on the native data plane it carries (no compiler, no node here)
    expect(output).toMatch(/"dataPlane":"native"/);
    expect(JSON.parse(peer(['list', '--json', '--config-dir', peerDir]).trim().split('\n').at(-1)!)).toEqual([expect.objectContaining({ name: 'workstation' })]);
  }, 90_000);

  it('install.sh puts it in place under a root (private state, the unit), and --uninstall keeps the keys unless asked', () => {
    const dir = join(unpacked, `gpu-bridge-peer-${version}-linux-x64`);
    const target = join(root, 'system');
    execFileSync('sh', [join(dir, 'install.sh'), '--root', target], { encoding: 'utf8' });
    const lib = join(target, 'usr/local/lib/gpu-bridge-peer/gpu-bridge-peer');
    expect(execFileSync(lib, ['--version'], { encoding: 'utf8', env }).trim()).toBe(version);
    expect(existsSync(join(target, 'usr/local/lib/gpu-bridge-peer/native/libgpubridge-rtp.so'))).toBe(true);
    expect(statSync(join(target, 'var/lib/gpu-bridge-peer')).mode & 0o777).toBe(0o700);
    const unit = readFileSync(join(target, 'etc/systemd/system/gpu-bridge-peer.service'), 'utf8');
    for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'User=gpu-bridge-peer', 'ExecStart=/usr/local/bin/gpu-bridge-peer run']) expect(unit).toContain(line);
    if (hasAnalyze) {
      // the unit as installed, its ExecStart pointed into the root (verify checks that the command exists)
      const copy = join(root, 'unit', 'gpu-bridge-peer.service');
      mkdirSync(join(root, 'unit'));
      writeFileSync(copy, unit.replace('/usr/local/bin/gpu-bridge-peer', lib));
      const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      expect(verify.status, verify.stderr).toBe(0);
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', copy], { encoding: 'utf8' });
      const level = /Overall exposure level for gpu-bridge-peer\.service: ([\d.]+)/.exec(security.stdout);
      console.log(`systemd-analyze security: exposure ${level?.[1] ?? '?'} (0 safest, 10 unsafe)`);
      expect(Number(level?.[1] ?? 10)).toBeLessThan(4);
    }
    writeFileSync(join(target, 'var/lib/gpu-bridge-peer', 'key.pem'), 'a key');
    execFileSync('sh', [join(dir, 'install.sh'), '--root', target, '--uninstall'], { encoding: 'utf8' });
    expect(existsSync(lib)).toBe(false);
    expect(existsSync(join(target, 'usr/local/lib/gpu-bridge-peer/native'))).toBe(false);
    expect(existsSync(join(target, 'etc/systemd/system/gpu-bridge-peer.service'))).toBe(false);
    expect(readFileSync(join(target, 'var/lib/gpu-bridge-peer', 'key.pem'), 'utf8')).toBe('a key');
    execFileSync('sh', [join(dir, 'install.sh'), '--root', target, '--uninstall', '--purge'], { encoding: 'utf8' });
    expect(existsSync(join(target, 'var/lib/gpu-bridge-peer'))).toBe(false);
  });
});
