import { ENCODERS, type EncoderName } from '../../core/sessions/encoder-args';
import { chooseEncoder, ffmpegEncoders } from '../../core/sessions/encoder-choice';
import { runSelftest, type SelftestResult } from '../../core/sessions/selftest';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';
import { printResult } from '../output';
import { sessionApiCommand } from './session-api';
import { parseIntOption, parseSize } from './session-args';

const USAGE = [
  'gpu-bridge session selftest [--size WxH] [--fps N] [--seconds S] [--encoder E] [--bitrate KBPS] [--json]',
  '       gpu-bridge session start --peer NAME [--size WxH] [--fps N] [--bitrate KBPS] [--codec h264|hevc|av1] [--display :0] [--json]',
  '       gpu-bridge session stop <id> [--json]',
  '       gpu-bridge session list [--json]',
  '  start/stop/list talk to the running app (`gpu-bridge serve` or the desktop app) through its URL: --url or GPU_BRIDGE_URL.',
].join('\n');

const OPTIONS = {
  size: { type: 'string' },
  fps: { type: 'string' },
  seconds: { type: 'string' },
  encoder: { type: 'string' },
  bitrate: { type: 'string' },
  codec: { type: 'string' },
  peer: { type: 'string' },
  display: { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function human(result: SelftestResult): string {
  const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);
  return [
    `encoder        ${result.encoder}${result.fallbackReason ? ` (fallback: ${result.fallbackReason})` : ''}`,
    `picture        ${result.size} @ ${result.fps} fps, ${result.bitrateKbps} kbit/s, ${result.seconds} s`,
    `latency        p50 ${ms(result.p50Ms)}   p95 ${ms(result.p95Ms)}   p99 ${ms(result.p99Ms)}   (capture → decoded at the peer)`,
    `frames         sent ${result.framesSent}, decoded ${result.framesDecoded}${result.unreadableFrames ? ` (${result.unreadableFrames} unreadable)` : ''}, ${result.fpsReceived} fps received`,
    `start          ${ms(result.startMs)} to the first decoded frame`,
    `encoder CPU    ${result.cpuPercent === null ? '—' : `${result.cpuPercent}% of one core`}`,
    result.ok ? 'result         ok' : `result         FAILED: ${result.reason}`,
  ].join('\n');
}

async function selftest(values: Record<string, string | boolean | undefined>): Promise<number> {
  const [width, height] = parseSize(values.size as string | undefined, [1280, 720]);
  const fps = parseIntOption('fps', values.fps as string | undefined, 60, 1, 240)!;
  const seconds = parseIntOption('seconds', values.seconds as string | undefined, 10, 2, 600)!;
  const bitrateKbps = parseIntOption('bitrate', values.bitrate as string | undefined, undefined, 100, 500_000);
  const json = Boolean(values.json);
  let encoder = values.encoder as string | undefined;
  let fallback: EncoderName | undefined;
  const available = await ffmpegEncoders();
  if (available.size === 0) throw new CliError('ffmpeg was not found or has none of the encoders sessions use; install ffmpeg (Debian: apt-get install ffmpeg)');
  if (encoder === undefined) {
    const choice = chooseEncoder('h264', null, available);
    encoder = choice.encoder;
    fallback = choice.fallback;
  } else if (!(ENCODERS as readonly string[]).includes(encoder)) {
    throw new CliError(`--encoder must be one of ${ENCODERS.join(', ')}; got "${encoder.slice(0, 40)}"`, 2);
  } else if (!available.has(encoder as EncoderName)) {
    throw new CliError(`this ffmpeg has no ${encoder}; it has ${[...available].join(', ')}`);
  } else if (encoder.endsWith('_nvenc')) {
    fallback = available.has('libx264') ? 'libx264' : undefined;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!json) log(`self-test: ${width}x${height}@${fps} with ${encoder} for ${seconds} s, to a local peer process over SRT on loopback…`);
  const result = await runSelftest({
    width, height, fps, seconds, encoder: encoder as EncoderName, fallback, bitrateKbps,
    peerCommand: { file: process.execPath, args: [process.argv[1]!, 'peer', 'receive', '--headless'] },
    onSecond: (second) => {
      if (!json) log(`  ${new Date(second.t).toISOString().slice(11, 19)}  p50 ${second.p50Ms ?? '—'} ms  p95 ${second.p95Ms ?? '—'} ms  ${second.fpsReceived} fps  ${second.bitrateKbps ?? '—'} kbit/s`);
    },
    onFallback: (reason) => log(`  ${reason}`),
  });
  printResult(json, result, human(result));
  return result.ok ? 0 : 1;
}

export const sessionCommand: CliCommand = {
  name: 'session',
  summary: 'streaming sessions: selftest (how fast is this machine), start, stop, list',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS, USAGE, true);
    const [sub, ...rest] = positionals;
    try {
      switch (sub) {
        case 'selftest':
          return await selftest(values);
        case 'start':
        case 'stop':
        case 'list':
          return await sessionApiCommand(sub, rest, values);
        default:
          throw new CliError(`unknown or missing subcommand${sub ? ` "${sub}"` : ''}\nusage: ${USAGE}`, 2);
      }
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError((error as Error).message);
    }
  },
};
