import { ENCODERS, type EncoderName } from '../../core/sessions/encoder-args';
import { chooseEncoder, ffmpegEncoders } from '../../core/sessions/encoder-choice';
import { runSelftest, type SelftestResult } from '../../core/sessions/selftest';
import type { SessionSource } from '../../shared/contract/sessions';
import { capabilities, DEFAULT_TRANSPORT, isTransportName, TRANSPORT_NAMES, type TransportName } from '../../shared/transports';
import { CaptureSettingsStore } from '../../core/capture/capture-settings';
import { captureRequestFor } from '../../core/capture/capture-request';
import { openCapture } from '../../core/capture/open-capture';
import { defaultPaths } from '../../core/paths';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';
import { printResult } from '../output';
import { sessionApiCommand } from './session-api';
import { parseIntOption, parseSize, parseSource } from './session-args';

const USAGE = [
  'gpu-bridge session selftest [--source test|x11|portal|gnome|wlroots] [--transport rtp|srt] [--one-way-delay MS] [--loss PCT] [--outage MS] [--size WxH] [--fps N] [--seconds S] [--encoder E] [--bitrate KBPS] [--json]',
  '       gpu-bridge session start --peer NAME [--source x11|portal|gnome|wlroots|test] [--display :0] [--output NAME] [--transport rtp|srt] [--size WxH] [--fps N] [--bitrate KBPS] [--codec h264|hevc|av1] [--json]',
  '  --source: where the picture comes from (default: this session\'s best, see `gpu-bridge info`); x11 takes --display, wlroots --output.',
  '       gpu-bridge session unattended on|off   (GNOME shares the screen without a dialog: for hosts nobody sits at)',
  '  --one-way-delay, --loss and --outage put a user-space UDP relay between the host and the local peer: that delay and that random loss, each way,',
  '  and (--outage) everything dropped both ways for MS milliseconds half-way through.',
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
  source: { type: 'string' },
  output: { type: 'string' },
  transport: { type: 'string' },
  'one-way-delay': { type: 'string' },
  loss: { type: 'string' },
  outage: { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
} as const;

async function unattended(rest: string[], json: boolean): Promise<number> {
  const store = new CaptureSettingsStore(defaultPaths().configDir);
  const [state] = rest;
  if (state !== undefined && state !== 'on' && state !== 'off') throw new CliError('usage: gpu-bridge session unattended on|off', 2);
  if (state !== undefined) await store.write({ unattendedGnome: state === 'on' });
  const settings = await store.read();
  printResult(json, settings, settings.unattendedGnome ? 'unattended GNOME sharing is on: GNOME shares the screen with no dialog (source gnome)' : 'unattended GNOME sharing is off: the portal asks the owner once');
  return 0;
}

/** `--transport`: one of TRANSPORT_NAMES (default DEFAULT_TRANSPORT). */
export function parseTransport(text: string | undefined): TransportName {
  if (text === undefined) return DEFAULT_TRANSPORT;
  if (!isTransportName(text)) throw new CliError(`--transport must be ${TRANSPORT_NAMES.join(' or ')}; got "${text.slice(0, 40)}"`, 2);
  return text;
}

function parseNumberOption(name: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined) return 0;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new CliError(`--${name} must be a number from ${min} to ${max}, got "${text.slice(0, 40)}"`, 2);
  return value;
}

function human(result: SelftestResult): string {
  const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);
  const cpu = (v: number | null) => (v === null ? '—' : `${v}%`);
  const caps = capabilities(result.transport);
  const link = result.oneWayDelayMs > 0 || result.lossPercent > 0 ? `through a relay: ${result.oneWayDelayMs} ms and ${result.lossPercent}% loss each way` : 'loopback';
  return [
    `encoder        ${result.encoder}${result.fallbackReason ? ` (fallback: ${result.fallbackReason})` : ''}`,
    `source         ${result.source}`,
    `transport      ${result.transport}, ${link}`,
    `picture        ${result.size} @ ${result.fps} fps, ${result.bitrateKbps} kbit/s, ${result.seconds} s`,
    `latency        p50 ${ms(result.p50Ms)}   p95 ${ms(result.p95Ms)}   p99 ${ms(result.p99Ms)}   (capture → decoded at the peer)`,
    `frames         sent ${result.framesSent}, decoded ${result.framesDecoded}, intact ${result.framesIntact}${result.unreadableFrames ? ` (${result.unreadableFrames} unreadable)` : ''}, ${result.fpsReceived} fps received`,
    ...(caps.figures.includes('fecRecovered')
      ? [`repairs        ${result.fecRecovered} packets by FEC, ${result.nackRecovered} by NACK; ${result.framesLost} frames lost, ${result.keyframeRequests} keyframe requests${result.cleanPictureMs === null ? '' : `, clean picture ${result.cleanPictureMs} ms after a loss burst`}`]
      : []),
    ...(caps.ownDataPlane ? [`transport CPU  sender ${cpu(result.senderCpuPercent)}, receiver ${cpu(result.receiverCpuPercent)} of one core (our code, not ffmpeg)`] : []),
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
  const transport = parseTransport(values.transport as string | undefined);
  const oneWayDelayMs = parseNumberOption('one-way-delay', values['one-way-delay'] as string | undefined, 0, 1000);
  const lossPercent = parseNumberOption('loss', values.loss as string | undefined, 0, 50);
  const outageMs = values.outage === undefined ? undefined : parseNumberOption('outage', values.outage as string | undefined, 1, 10_000);
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
  const kind = parseSource(values.source as string | undefined) ?? 'test';
  const source: SessionSource = kind === 'x11' ? { kind: 'x11', display: (values.display as string | undefined) ?? process.env.DISPLAY ?? ':0', x: 0, y: 0 } : kind === 'wlroots' ? { kind: 'wlroots', output: values.output as string | undefined } : { kind } as SessionSource;
  const configDir = defaultPaths().configDir;
  const captureRequest = captureRequestFor(source, { width, height, fps }, { input: false, unattendedGnome: (await new CaptureSettingsStore(configDir).read()).unattendedGnome });
  const capture = await openCapture(captureRequest, { env: process.env, configDir, onApproval: (waiting) => waiting && log('  approve the screen share on the workstation (the portal\'s dialog is open)…') });
  const link = oneWayDelayMs > 0 || lossPercent > 0 ? `through a relay (${oneWayDelayMs} ms, ${lossPercent}% loss each way)` : 'on loopback';
  if (!json) log(`self-test: ${width}x${height}@${fps} with ${encoder} for ${seconds} s, to a local peer process over ${transport} ${link}…`);
  const result = await runSelftest({
    width, height, fps, seconds, encoder: encoder as EncoderName, fallback, bitrateKbps, transport, oneWayDelayMs, lossPercent, outageMs, capture,
    peerCommand: { file: process.execPath, args: [process.argv[1]!, 'peer', 'receive', '--headless'] },
    onSecond: (second) => {
      const repairs = second.fecRecovered === null ? '' : `  fec ${second.fecRecovered} nack ${second.nackRecovered} lost ${second.framesLost}`;
      if (!json) log(`  ${new Date(second.t).toISOString().slice(11, 19)}  p50 ${second.p50Ms ?? '—'} ms  p95 ${second.p95Ms ?? '—'} ms  ${second.fpsReceived} fps  ${second.bitrateKbps ?? '—'} kbit/s${repairs}`);
    },
    onFallback: (reason) => log(`  ${reason}`),
  }).finally(() => capture.close());
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
        case 'unattended':
          return await unattended(rest, Boolean(values.json));
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
