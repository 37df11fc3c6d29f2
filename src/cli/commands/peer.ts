import { createInterface } from 'node:readline';
import qrcode from 'qrcode-terminal';
import { InputEvent } from '../../shared/contract/peers';
import { parseJsonLine } from '../../shared/json-line';
import { formatFingerprint } from '../../core/crypto/self-signed';
import { AuditLog } from '../../core/audit/audit-log';
import { loadOrCreateIdentity } from '../../core/pairing/identity';
import { PartyStore } from '../../core/pairing/party-store';
import { TOKEN_TTL_MS, TokenStore } from '../../core/pairing/tokens';
import { formatPairUri } from '../../core/pairing/uri';
import { StoreCorruptError } from '../../core/store/atomic-json';
import { defaultPaths } from '../../core/paths';
import { PeerAgent, readRunInfo } from '../../peer/agent';
import { receiveOverStdio } from '../../peer/receive-stdio';
import { parseWatch } from '../../peer/watch';
import { parseCommandArgs, parsePort } from '../args';
import { CliError, type CliCommand } from '../command';
import { printResult } from '../output';
import { join } from 'node:path';

const USAGE = [
  'gpu-bridge peer run [--port N] [--listen ADDR] [--advertise HOST:PORT] [--watch WxH@FPS] [--headless] [--input-from-stdin] [--config-dir DIR] [--json]',
  '       gpu-bridge peer pair [--ttl SECONDS] [--config-dir DIR] [--json]',
  '       gpu-bridge peer list [--config-dir DIR] [--json]',
  '       gpu-bridge peer revoke <name|fingerprint> [--config-dir DIR] [--json]',
  '       gpu-bridge peer receive [--listen ADDR] [--headless]   (stream messages as JSON lines on stdin/stdout; the self-test uses it)',
].join('\n');

const OPTIONS = {
  'config-dir': { type: 'string' },
  json: { type: 'boolean' },
  port: { type: 'string' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  ttl: { type: 'string' },
  name: { type: 'string' },
  'input-from-stdin': { type: 'boolean' },
  headless: { type: 'boolean' },
  watch: { type: 'string' },
} as const;

async function storeErrors<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof StoreCorruptError) throw new CliError(error.message);
    throw error;
  }
}

export const peerCommand: CliCommand = {
  name: 'peer',
  summary: 'the agent on the cloud instance: run, pair (URI + QR), list, revoke',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS, USAGE, true);
    const [sub, ...rest] = positionals;
    const configDir = values['config-dir'] ?? join(defaultPaths().configDir, 'peer');
    return storeErrors(async () => {
      switch (sub) {
        case 'run':
          return runAgent(configDir, values);
        case 'receive':
          return receiveOverStdio({ listen: values.listen ?? '127.0.0.1', display: !values.headless && Boolean(process.env.DISPLAY) });
        case 'pair': {
          const ttl = values.ttl === undefined ? TOKEN_TTL_MS : Number(values.ttl) * 1000;
          if (!Number.isFinite(ttl) || ttl <= 0 || ttl > TOKEN_TTL_MS) throw new CliError('--ttl must be 1 to 600 seconds', 2);
          const info = await readRunInfo(configDir);
          if (!info) throw new CliError(`\`gpu-bridge peer run\` is not running with config dir ${configDir}; start it first (the URI names its address)`);
          const identity = await loadOrCreateIdentity(configDir, 'gpu-bridge peer');
          const { token, expiresAt } = await new TokenStore(configDir).issue(ttl);
          const uri = formatPairUri(info.addr, identity.fingerprint, token);
          await new AuditLog(join(configDir, 'audit.jsonl')).append({ action: 'peer.token', target: null, result: 'ok', detail: `expires ${new Date(expiresAt).toISOString()}` });
          if (values.json) {
            printResult(true, { uri, expiresAt: new Date(expiresAt).toISOString(), fingerprint: identity.fingerprint }, '');
          } else {
            qrcode.generate(uri, { small: true }, (qr) => process.stdout.write(`${qr}\n`));
            process.stdout.write(`Pairing URI (one use, valid until ${new Date(expiresAt).toLocaleTimeString()}):\n  ${uri}\n`);
            process.stdout.write(`Paste it on the host's Peers page or run: gpu-bridge pair '${uri}'\nThis peer's fingerprint: ${formatFingerprint(identity.fingerprint)}\n`);
          }
          return 0;
        }
        case 'list': {
          const hosts = await new PartyStore(configDir, 'hosts').list();
          printResult(values.json, hosts, hosts.length === 0 ? '(no paired hosts)' : hosts.map((h) => `${h.name.padEnd(20)} ${h.revokedAt ? 'revoked' : 'active '} ${h.fingerprint} last seen ${h.lastSeen ?? 'never'}`).join('\n'));
          return 0;
        }
        case 'revoke': {
          const ref = rest[0];
          if (!ref) throw new CliError(`name the host to revoke\nusage: ${USAGE}`, 2);
          const store = new PartyStore(configDir, 'hosts');
          const host = await store.find(ref);
          if (!host) throw new CliError(`no paired host "${ref}" (see \`gpu-bridge peer list\`)`);
          const revoked = (await store.revoke(host.fingerprint))!;
          await new AuditLog(join(configDir, 'audit.jsonl')).append({ action: 'peer.revoke', target: `${host.name} ${host.fingerprint}`, result: 'ok', detail: null });
          printResult(values.json, revoked, `revoked ${host.name} (${host.fingerprint})`);
          return 0;
        }
        default:
          throw new CliError(`unknown or missing subcommand${sub ? ` "${sub}"` : ''}\nusage: ${USAGE}`, 2);
      }
    });
  },
};

async function runAgent(configDir: string, values: { port?: string; listen?: string; advertise?: string; name?: string; json?: boolean; 'input-from-stdin'?: boolean; headless?: boolean; watch?: string }): Promise<number> {
  let watch;
  try {
    watch = values.watch === undefined ? undefined : parseWatch(values.watch);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  const agent = new PeerAgent({
    display: !values.headless && Boolean(process.env.DISPLAY),
    watch,
    configDir,
    port: parsePort(values.port, 47800),
    listen: values.listen ?? '0.0.0.0',
    advertise: values.advertise,
    name: values.name,
    log: (event) => process.stdout.write(values.json ? `${JSON.stringify(event)}\n` : `${Object.entries(event).map(([k, v]) => `${k}=${String(v)}`).join(' ')}\n`),
  });
  let bound: string;
  try {
    bound = await agent.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${values.port} is already in use; pick another with --port (0 = any free port)`);
    throw error;
  }
  process.stdout.write(`listening on ${bound}\n`);
  process.stdout.write(values.json ? `${JSON.stringify({ event: 'ready', addr: agent.addr, fingerprint: agent.fingerprint })}\n` : `fingerprint ${formatFingerprint(agent.fingerprint)}; pair with: gpu-bridge peer pair --config-dir ${configDir}\n`);
  if (values['input-from-stdin']) {
    // one JSON InputEvent per line, sent to every connected host
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const event = parseJsonLine(InputEvent, line);
      if (!event) {
        process.stdout.write(`${JSON.stringify({ event: 'input-invalid' })}\n`);
        return;
      }
      const sent = agent.sendInput(event);
      process.stdout.write(`${JSON.stringify({ event: 'input-sent', hosts: sent })}\n`);
    });
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await agent.stop();
  return 0;
}
