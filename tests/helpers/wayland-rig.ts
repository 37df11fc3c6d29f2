// Real headless Wayland desktops for the capture tests: GNOME (mutter --headless with a virtual monitor,
// PipeWire, WirePlumber, the real xdg-desktop-portal frontend with a test backend that stands in for the
// consent dialog) and sway (headless wlroots, pixman). The desktop runs as a non-root user with its own
// XDG_RUNTIME_DIR and session bus (sway refuses root), as on a workstation. The session bus also admits
// root, so the test process and the built CLI (run as root in CI) reach it like the owner's own app.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DbusClient } from '../../src/core/capture/dbus-client';
import { onScreenStampFilters } from '../../src/core/sessions/stamp';

export const RIG_USER = 'gpubridge-wl';

/** Polls `probe` until it returns something truthy; the error names `what` and, then, the rig's logs. */
async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, options: { timeoutMs: number; what: string; logs?: () => string }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}\n${options.logs?.() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RigUser {
  uid: number;
  gid: number;
}

/** Why this rig cannot run here (printed as the test's skip), or null. */
export function rigUnavailable(kind: 'gnome' | 'sway'): string | null {
  const needs = kind === 'gnome'
    ? ['mutter', 'pipewire', 'wireplumber', 'dbus-daemon', 'gst-launch-1.0', 'pw-cli', '/usr/libexec/xdg-desktop-portal', '/usr/libexec/xdg-permission-store']
    : ['sway', 'swaymsg', 'wf-recorder'];
  const missing = needs.filter((name) => (name.startsWith('/') ? !existsSync(name) : spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0));
  if (missing.length > 0) return `the ${kind} rig needs ${missing.join(', ')} (Debian packages; .ci/run installs them)`;
  if (process.getuid?.() !== 0) return `the ${kind} rig runs the desktop as the user ${RIG_USER}, which only root can create and switch to`;
  return null;
}

function rigUser(): RigUser {
  const id = (flag: string) => spawnSync('id', [flag, RIG_USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    const made = spawnSync('useradd', ['--system', '--create-home', '--home-dir', `/var/lib/${RIG_USER}`, '--shell', '/usr/sbin/nologin', RIG_USER], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`useradd ${RIG_USER} failed: ${made.stderr}`);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/**
 * The desktop user runs the built CLI from this checkout: every folder above it must let others pass
 * (o+x, not list). A checkout under a private folder (/root, a mktemp -d) gets that bit, said aloud.
 */
function letDesktopUserRead(file: string): void {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, (mode & 0o7777) | 0o001);
      console.warn(`wayland-rig: made ${dir} passable for others (o+x) so the desktop user ${RIG_USER} can run the built CLI`);
    }
  }
}

interface Started {
  name: string;
  child: ChildProcess;
  log: () => string;
}

export class Rig {
  readonly runtimeDir: string;
  readonly home: string;
  private readonly processes: Started[] = [];
  /** What the test process and the CLI need to use this desktop (add to process.env). */
  env: NodeJS.ProcessEnv = {};

  constructor(readonly user: RigUser) {
    this.runtimeDir = mkdtempSync(join(tmpdir(), 'gb-wl-run-'));
    chownSync(this.runtimeDir, user.uid, user.gid);
    chmodSync(this.runtimeDir, 0o700);
    // a fresh home per rig: the portal's permission store and our restore token start empty
    this.home = mkdtempSync(join(tmpdir(), 'gb-wl-home-'));
    chownSync(this.home, user.uid, user.gid);
    chmodSync(this.home, 0o700);
  }

  /** The desktop user's environment: its own runtime folder and home, nothing of ours. */
  userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: this.home, XDG_RUNTIME_DIR: this.runtimeDir, LANG: 'C.UTF-8', ...extra };
  }

  /** Starts a program as the desktop user (tied to this process: it dies with it). */
  startAsUser(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Started {
    const child = spawn('setpriv', ['--reuid', String(this.user.uid), '--regid', String(this.user.gid), '--init-groups', '--pdeathsig', 'SIGKILL', '--', file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: this.home });
    return this.track(name, child);
  }

  /** Starts a program as root (the test portal backend), tied to this process. */
  startAsRoot(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Started {
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return this.track(name, child);
  }

  private track(name: string, child: ChildProcess): Started {
    let log = '';
    const add = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000));
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    const started = { name, child, log: () => log };
    this.processes.push(started);
    return started;
  }

  /**
   * Runs the built CLI as the desktop user, as the owner's own app runs: the portal identifies its caller
   * by /proc/PID/root, which it cannot open for a root process ("Portal operation not allowed").
   */
  runCli(cli: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    letDesktopUserRead(cli);
    const child = spawn('setpriv', ['--reuid', String(this.user.uid), '--regid', String(this.user.gid), '--init-groups', '--pdeathsig', 'SIGKILL', '--', process.execPath, cli, ...args], {
      env: { ...this.userEnv(this.env), ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: this.home,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((done) => child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    }));
  }

  private latest(name: string): Started | undefined {
    return [...this.processes].reverse().find((p) => p.name === name);
  }

  alive(name: string): boolean {
    const started = this.latest(name);
    return Boolean(started && started.child.exitCode === null && started.child.signalCode === null);
  }

  logs(): string {
    return this.processes.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.log().slice(-3000)}`).join('\n');
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const started = this.latest(name);
    if (!started || started.child.exitCode !== null || started.child.signalCode !== null) return;
    // 'exit', not 'close': a service the bus activated may still hold the same pipes
    const gone = new Promise((done) => started.child.once('exit', done));
    started.child.kill(signal);
    await gone;
  }

  async stop(): Promise<void> {
    for (const started of [...this.processes].reverse()) {
      if (started.child.exitCode !== null || started.child.signalCode !== null) continue;
      const gone = new Promise((done) => started.child.once('exit', done));
      started.child.kill('SIGTERM');
      const timer = setTimeout(() => started.child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
    // what the session bus activated on its own (the document portal…) belongs to the rig's user alone
    spawnSync('pkill', ['-KILL', '-u', RIG_USER]);
    rmSync(this.runtimeDir, { recursive: true, force: true });
    rmSync(this.home, { recursive: true, force: true });
  }
}

async function waitForName(address: string, name: string, rig: Rig, timeoutMs = 20_000): Promise<void> {
  const bus = await DbusClient.connect(address);
  try {
    await until(async () => bus.hasOwner(name), { timeoutMs, what: `${name} on the rig's session bus`, logs: () => rig.logs() });
  } finally {
    bus.close();
  }
}

function busConfig(dir: string): string {
  // the session bus of the desktop user, also open to root (the test process and the CLI run as root in CI)
  const file = join(dir, 'session-bus.conf');
  writeFileSync(file, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <policy context="default"><allow user="*"/></policy>
</busconfig>
`);
  chmodSync(file, 0o644);
  return file;
}

async function startBus(rig: Rig, configDir: string): Promise<string> {
  const address = `unix:path=${rig.runtimeDir}/bus`;
  rig.startAsUser('dbus-daemon', 'dbus-daemon', [`--config-file=${busConfig(configDir)}`, `--address=${address}`, '--nofork', '--nopidfile'], rig.userEnv());
  await until(() => existsSync(join(rig.runtimeDir, 'bus')), { timeoutMs: 10_000, what: `the rig's session bus`, logs: () => rig.logs() });
  return address;
}

export interface GnomeRig {
  rig: Rig;
  /** The portal backend's log: one JSON line per dialog it would have shown or restore it honoured. */
  portalLog(): Array<{ dialog?: boolean; kind?: string; closed?: string }>;
  /** Makes the portal backend refuse every stored grant from now on (a revoked permission). */
  revokeGrants(): void;
  /** Restarts the portal backend answering `answer` to the next dialogs, after `afterMs`. */
  setAnswer(answer: 'grant' | 'cancel' | 'deny', afterMs?: number): Promise<void>;
  address: string;
}

/** A headless GNOME session as a user: bus, mutter (virtual monitor), PipeWire, WirePlumber and (unless `portal: false`) the portal. */
export async function startGnomeRig(options: { width?: number; height?: number; portal?: boolean } = {}): Promise<GnomeRig> {
  const rig = new Rig(rigUser());
  const dir = mkdtempSync(join(tmpdir(), 'gb-wl-conf-'));
  chmodSync(dir, 0o755);
  try {
    const address = await startBus(rig, dir);
    const busEnv = rig.userEnv({ DBUS_SESSION_BUS_ADDRESS: address });
    rig.startAsUser('mutter', 'mutter', ['--headless', '--virtual-monitor', `${options.width ?? 1280}x${options.height ?? 720}`, '--wayland-display=wayland-gb', '--no-x11'], { ...busEnv, XDG_SESSION_TYPE: 'wayland' });
    await waitForName(address, 'org.gnome.Mutter.ScreenCast', rig);
    rig.startAsUser('pipewire', 'pipewire', [], busEnv);
    await until(() => existsSync(join(rig.runtimeDir, 'pipewire-0')), { timeoutMs: 10_000, what: `PipeWire's socket`, logs: () => rig.logs() });
    rig.startAsUser('wireplumber', 'wireplumber', [], busEnv);
    await until(() => {
      const clients = spawnSync('pw-cli', ['ls', 'Client'], { env: { ...process.env, XDG_RUNTIME_DIR: rig.runtimeDir }, encoding: 'utf8', timeout: 3000 });
      return /wireplumber/i.test(clients.stdout ?? '');
    }, { timeoutMs: 15_000, what: `WirePlumber connected to PipeWire`, logs: () => rig.logs() });
    rig.startAsUser('permission-store', '/usr/libexec/xdg-permission-store', ['--replace'], busEnv);
    await waitForName(address, 'org.freedesktop.impl.portal.PermissionStore', rig);
    rig.env = {
      XDG_RUNTIME_DIR: rig.runtimeDir,
      DBUS_SESSION_BUS_ADDRESS: address,
      WAYLAND_DISPLAY: 'wayland-gb',
      XDG_SESSION_TYPE: 'wayland',
      XDG_CURRENT_DESKTOP: 'GNOME',
    };
    const originalStop = rig.stop.bind(rig);
    rig.stop = async () => {
      await originalStop();
      rmSync(dir, { recursive: true, force: true });
    };
    const portalLog = join(dir, 'portal.jsonl');
    const revoked = join(dir, 'revoked.txt');
    let answer: 'grant' | 'cancel' | 'deny' = 'grant';
    let answerAfterMs = 0;
    const startBackend = async () => {
      rig.startAsRoot('portal-backend', process.execPath, [resolve(__dirname, 'portal-test-backend.mjs')], { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, GB_PORTAL_LOG: portalLog, GB_PORTAL_REVOKED: revoked, GB_PORTAL_ANSWER: answer, GB_PORTAL_ANSWER_AFTER_MS: String(answerAfterMs) });
      await waitForName(address, 'org.freedesktop.impl.portal.desktop.gpubridgetest', rig);
    };
    if (options.portal !== false) {
      await startBackend();
      const portals = join(dir, 'portals');
      mkdirSync(portals);
      chmodSync(portals, 0o755);
      writeFileSync(join(portals, 'gpubridgetest.portal'), '[portal]\nDBusName=org.freedesktop.impl.portal.desktop.gpubridgetest\nInterfaces=org.freedesktop.impl.portal.ScreenCast;org.freedesktop.impl.portal.RemoteDesktop;\nUseIn=gpubridgetest\n');
      chmodSync(join(portals, 'gpubridgetest.portal'), 0o644);
      rig.startAsUser('xdg-desktop-portal', '/usr/libexec/xdg-desktop-portal', ['--replace'], { ...busEnv, XDG_DESKTOP_PORTAL_DIR: portals, XDG_CURRENT_DESKTOP: 'gpubridgetest' });
      await waitForName(address, 'org.freedesktop.portal.Desktop', rig);
    }
    return {
      rig,
      address,
      portalLog: () => (existsSync(portalLog) ? readFileSync(portalLog, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { dialog?: boolean }) : []),
      revokeGrants: () => {
        const ids = (existsSync(portalLog) ? readFileSync(portalLog, 'utf8') : '').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { granted?: string }).granted).filter(Boolean);
        writeFileSync(revoked, `${ids.join('\n')}\n`);
      },
      setAnswer: async (next, afterMs = 0) => {
        answer = next;
        answerAfterMs = afterMs;
        await rig.kill('portal-backend');
        await startBackend();
      },
    };
  } catch (error) {
    await rig.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface SwayRig {
  rig: Rig;
  swaysock: string;
  swaymsg(args: string[]): string;
}

/** A headless sway session as a user (wlroots, pixman renderer): output HEADLESS-1 at the given size. */
export async function startSwayRig(options: { width?: number; height?: number } = {}): Promise<SwayRig> {
  const rig = new Rig(rigUser());
  const config = join(rig.runtimeDir, 'sway.conf');
  writeFileSync(config, `output HEADLESS-1 resolution ${options.width ?? 1280}x${options.height ?? 720}\ndefault_border none\nfocus_follows_mouse yes\n`);
  chownSync(config, rig.user.uid, rig.user.gid);
  try {
    const address = await startBus(rig, rig.runtimeDir);
    rig.startAsUser('sway', 'sway', ['-c', config], rig.userEnv({ DBUS_SESSION_BUS_ADDRESS: address, WLR_BACKENDS: 'headless', WLR_RENDERER: 'pixman', WLR_LIBINPUT_NO_DEVICES: '1' }));
    const display = await until(() => (existsSync(join(rig.runtimeDir, 'wayland-1')) ? 'wayland-1' : null), { timeoutMs: 15_000, what: `sway's Wayland socket`, logs: () => rig.logs() });
    const swaysock = await until(() => {
      const found = spawnSync('sh', ['-c', `ls ${rig.runtimeDir}/sway-ipc.*.sock 2>/dev/null | head -1`], { encoding: 'utf8' }).stdout.trim();
      return found || null;
    }, { timeoutMs: 10_000, what: `sway's IPC socket`, logs: () => rig.logs() });
    rig.env = { XDG_RUNTIME_DIR: rig.runtimeDir, DBUS_SESSION_BUS_ADDRESS: address, WAYLAND_DISPLAY: display, SWAYSOCK: swaysock, XDG_SESSION_TYPE: 'wayland', XDG_CURRENT_DESKTOP: 'sway' };
    return {
      rig,
      swaysock,
      swaymsg: (args) => spawnSync('swaymsg', ['-s', swaysock, ...args], { encoding: 'utf8', timeout: 5000 }).stdout,
    };
  } catch (error) {
    await rig.stop();
    throw error;
  }
}

/**
 * A moving picture on the desktop: ffmpeg's testsrc2 in a full-screen SDL window (SDL's Wayland driver),
 * so every frame differs from the last. Runs as the desktop user. `stamp`: the frame's wall-clock time is
 * drawn in the picture's bottom 32 rows (the latency stamp's blocks), for capture-to-decode from the screen;
 * the frames then get plain increasing timestamps (SDL's muxer drops frames whose wall-clock ones collide).
 */
export function startWaylandAnimator(rig: Rig, width: number, height: number, fps: number, options: { stamp?: boolean } = {}): void {
  const input = options.stamp
    ? ['-use_wallclock_as_timestamps', '1', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps},settb=1/1000000,realtime`, '-copyts', '-fps_mode', 'passthrough', '-vf', [...onScreenStampFilters(), `setpts=N/(${fps}*TB)`].join(',')]
    : ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`];
  rig.startAsUser('animator', 'ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', ...input,
    '-pix_fmt', 'bgra', '-f', 'sdl2', '-window_fullscreen', '1', '-window_borderless', '1', 'gpu-bridge-animator',
  ], rig.userEnv({ WAYLAND_DISPLAY: rig.env.WAYLAND_DISPLAY, SDL_VIDEODRIVER: 'wayland', SDL_RENDER_DRIVER: 'software' }));
}
