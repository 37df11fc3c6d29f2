import { execFile } from 'node:child_process';

/** A reachable sound server speaking the PulseAudio protocol (PulseAudio, or PipeWire's pipewire-pulse). */
export interface SoundServer {
  /** What the server calls itself ("PulseAudio (on PipeWire 1.2.7)"). */
  name: string;
  /** The default output (sink). */
  defaultSink: string;
  /** Its monitor source: what the host captures (everything the machine plays). */
  monitor: string;
}

export type SoundServerProbe = { server: SoundServer } | { unavailable: string };

const PROBE_TIMEOUT_MS = 3000;

/**
 * Asks the sound server for its default sink (`pactl info`, the PulseAudio API). `unavailable` is one
 * line saying why there is none: no pactl, no server answering, or no default sink.
 */
export function probeSoundServer(env: NodeJS.ProcessEnv = process.env): Promise<SoundServerProbe> {
  return new Promise((resolve) => {
    execFile('pactl', ['info'], { env, timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve({ unavailable: 'no sound server here: pactl is not installed (Debian: pulseaudio-utils)' });
        return;
      }
      if (error) {
        const why = (stderr || error.message).trim().split('\n').at(-1) ?? '';
        resolve({ unavailable: `no sound server answers (pactl info: ${why.slice(0, 200)}); start PipeWire with pipewire-pulse, or PulseAudio` });
        return;
      }
      const field = (label: string): string | null => stdout.match(new RegExp(`^${label}: (.+)$`, 'm'))?.[1]?.trim() ?? null;
      const sink = field('Default Sink');
      const name = field('Server Name') ?? 'a PulseAudio server';
      if (!sink || sink === '@DEFAULT_SINK@') {
        resolve({ unavailable: `the sound server (${name}) has no default output to capture` });
        return;
      }
      resolve({ server: { name, defaultSink: sink, monitor: `${sink}.monitor` } });
    });
  });
}
