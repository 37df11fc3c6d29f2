import WebSocket from 'ws';
import type { SessionInfo } from '../../shared/contract/sessions';
import { CliError } from '../command';
import { printResult } from '../output';
import { parseIntOption, parseSize, parseSource } from './session-args';

/** Calls one method of the running app over its WebSocket (the URL `gpu-bridge serve` prints, with its token). */
export function callApp(urlText: string, method: string, params: unknown, timeoutMs = 20_000): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new CliError(`--url must be the app's URL with its token, as \`gpu-bridge serve\` prints it; got "${urlText.slice(0, 80)}"`, 2);
  }
  const ws = new URL(url.toString());
  ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.pathname = '/ws';
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(ws.toString(), { rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new CliError(`no answer from ${url.host} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once('open', () => socket.send(JSON.stringify({ id: 1, method, params })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { code: string; message: string } };
      if (message.id !== 1) return;
      clearTimeout(timer);
      socket.close();
      if (message.error) reject(new CliError(`${message.error.code}: ${message.error.message}`));
      else resolve(message.result);
    });
    socket.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      reject(new CliError(response.statusCode === 401 ? 'the app refused the token: use the URL `gpu-bridge serve` printed, with ?token=' : `the app answered HTTP ${response.statusCode}`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new CliError(`cannot reach the app at ${url.host}: ${error.message} (is \`gpu-bridge serve\` running?)`));
    });
  });
}

function line(session: SessionInfo): string {
  const last = session.last;
  const figures = last ? `p50 ${last.p50Ms ?? '—'} ms p95 ${last.p95Ms ?? '—'} ms ${last.fpsReceived} fps ${last.bitrateKbps ?? '—'} kbit/s` : '';
  return `${session.id}  ${session.state.padEnd(10)} ${session.viewers.join(',').padEnd(16)} ${session.width}x${session.height}@${session.fps} ${session.encoder} ${session.transport} ${session.targetKbps} kbit/s  ${figures}${session.reason ? `  (${session.reason})` : ''}`;
}

export async function sessionApiCommand(sub: 'start' | 'stop' | 'list', rest: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const url = (values.url as string | undefined) ?? process.env.GPU_BRIDGE_URL;
  if (!url) throw new CliError('name the running app with --url URL (as `gpu-bridge serve` prints it) or GPU_BRIDGE_URL', 2);
  const json = Boolean(values.json);
  if (sub === 'list') {
    const sessions = (await callApp(url, 'sessions.list', {})) as SessionInfo[];
    printResult(json, sessions, sessions.length === 0 ? '(no sessions)' : sessions.map(line).join('\n'));
    return 0;
  }
  if (sub === 'stop') {
    const id = rest[0];
    if (!id) throw new CliError('name the session to stop (see `gpu-bridge session list`)', 2);
    const session = (await callApp(url, 'sessions.stop', { id })) as SessionInfo;
    printResult(json, session, line(session));
    return 0;
  }
  const peer = values.peer as string | undefined;
  if (!peer) throw new CliError('name the peer with --peer NAME (see `gpu-bridge pair list`)', 2);
  const [width, height] = parseSize(values.size as string | undefined, [1280, 720]);
  const params: Record<string, unknown> = { peer, width, height, fps: parseIntOption('fps', values.fps as string | undefined, 60, 1, 240) };
  const bitrate = parseIntOption('bitrate', values.bitrate as string | undefined, undefined, 100, 500_000);
  if (bitrate !== undefined) params.bitrateKbps = bitrate;
  if (values.codec !== undefined) params.codec = values.codec;
  if (values.transport !== undefined) params.transport = values.transport;
  if (values.audio || values['no-audio']) params.audio = Boolean(values.audio) && !values['no-audio'];
  const kind = parseSource(values.source as string | undefined) ?? (values.display !== undefined ? 'x11' : undefined);
  if (kind === 'x11') params.source = { kind: 'x11', display: (values.display as string | undefined) ?? process.env.DISPLAY ?? ':0' };
  else if (kind === 'wlroots') params.source = values.output === undefined ? { kind } : { kind, output: values.output };
  else if (kind !== undefined) params.source = { kind };
  const session = (await callApp(url, 'sessions.start', params)) as SessionInfo;
  printResult(json, session, line(session));
  return 0;
}
