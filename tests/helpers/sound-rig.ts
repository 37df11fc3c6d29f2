// A headless sound server for the audio tests: PipeWire + WirePlumber + pipewire-pulse (the PulseAudio
// API the app uses), each rig with its own runtime folder and session bus, so a host and a peer on one
// machine each have their own default output: a null sink, whose monitor can be recorded.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './until';

/** Why no sound rig can run here (printed as the test's skip), or null. */
export function soundRigUnavailable(): string | null {
  const needs = ['pipewire', 'wireplumber', 'pipewire-pulse', 'dbus-daemon', 'pactl', 'parec', 'pacat', 'paplay', 'sox'];
  const missing = needs.filter((name) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name]).status !== 0);
  return missing.length > 0 ? `the sound rig needs ${missing.join(', ')} (Debian: pipewire pipewire-bin pipewire-pulse wireplumber dbus-daemon pulseaudio-utils sox; .ci/run installs them)` : null;
}

export class SoundRig {
  readonly runtimeDir = mkdtempSync(join(tmpdir(), 'gb-sound-'));
  /** What a process needs to reach this rig's server (merge into its environment). */
  readonly env: NodeJS.ProcessEnv;
  readonly sink = 'gb_out';
  private readonly children: { name: string; child: ChildProcess; log: string }[] = [];

  private constructor(readonly name: string) {
    this.env = { ...process.env, XDG_RUNTIME_DIR: this.runtimeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(this.runtimeDir, 'bus')}`, PULSE_SERVER: `unix:${join(this.runtimeDir, 'pulse', 'native')}` };
    delete this.env.DISPLAY;
  }

  get monitor(): string {
    return `${this.sink}.monitor`;
  }

  static async start(name: string): Promise<SoundRig> {
    const rig = new SoundRig(name);
    try {
      rig.spawn('dbus-daemon', ['--session', `--address=${rig.env.DBUS_SESSION_BUS_ADDRESS}`, '--nofork', '--nopidfile']);
      await until(`${name}: its session bus`, () => spawnSync('dbus-send', ['--session', '--dest=org.freedesktop.DBus', '--type=method_call', '--print-reply', '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames'], { env: rig.env }).status === 0, 10_000);
      rig.spawn('pipewire', []);
      // WirePlumber and pipewire-pulse give up at once when PipeWire is not listening yet (a loaded machine)
      await until(`${name}: PipeWire listening`, () => existsSync(join(rig.runtimeDir, 'pipewire-0')), 30_000);
      rig.spawn('wireplumber', []);
      rig.spawn('pipewire-pulse', []);
      // generous: on a loaded machine the three daemons take a while to find each other
      await until(`${name}: pipewire-pulse answering`, () => rig.pactl(['info']) !== null, 30_000);
      rig.pactl(['load-module', 'module-null-sink', `sink_name=${rig.sink}`, 'rate=48000', 'channels=2']);
      // the session manager (WirePlumber) makes it the default once it has seen it
      await until(`${name}: ${rig.sink} the default output`, () => {
        rig.pactl(['set-default-sink', rig.sink]);
        return /^Default Sink: gb_out$/m.test(rig.pactl(['info']) ?? '');
      }, 30_000);
      return rig;
    } catch (error) {
      const logs = rig.logs();
      await rig.stop();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
  }

  pactl(args: string[]): string | null {
    const run = spawnSync('pactl', args, { env: this.env, encoding: 'utf8', timeout: 5000 });
    return run.status === 0 ? run.stdout : null;
  }

  /** Plays a sound file into this rig's default output; resolves when it has played. */
  play(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('paplay', ['--latency-msec=100', file], { env: this.env, stdio: 'ignore' });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`paplay exited with ${code}`))));
    });
  }

  /** Records this rig's default output's monitor (s16le 48 kHz stereo) until `stop` is called. */
  record(): { stop: () => Promise<Buffer>; startedAt: number } {
    const child = spawn('parec', ['--raw', '--format=s16le', '--rate=48000', '--channels=2', '--latency-msec=10', `--device=${this.monitor}`], { env: this.env, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    const startedAt = performance.timeOrigin + performance.now();
    return {
      startedAt,
      stop: () =>
        new Promise((resolve) => {
          child.once('close', () => resolve(Buffer.concat(chunks)));
          child.kill('SIGTERM');
        }),
    };
  }

  private spawn(name: string, args: string[]): void {
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', name, ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = { name, child, log: '' };
    const add = (chunk: Buffer) => (entry.log = (entry.log + chunk.toString()).slice(-4000));
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    this.children.push(entry);
  }

  logs(): string {
    return this.children.map((c) => `--- ${c.name}\n${c.log}`).join('\n');
  }

  async stop(): Promise<void> {
    for (const entry of [...this.children].reverse()) {
      if (entry.child.exitCode !== null || entry.child.signalCode !== null) continue;
      const gone = new Promise((resolve) => entry.child.once('close', resolve));
      entry.child.kill('SIGTERM');
      const timer = setTimeout(() => entry.child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}

/** A test signal: a rising sweep (no two moments alike, so the correlation has one clear peak), as a WAV file. */
export function sweepWav(file: string, seconds: number): void {
  execFileSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', file, 'synth', String(seconds), 'sine', '300-3000', 'vol', '0.5']);
}
