import { join } from 'node:path';
import { PeerScope, type InputEvent, type PeerRecord } from '../../shared/contract/peers';
import { ApiError } from '../../shared/errors';
import { AuditLog } from '../../core/audit/audit-log';
import { loadOrCreateIdentity } from '../../core/pairing/identity';
import { HostConnection, pairWithPeer } from '../../core/pairing/host';
import { PartyStore } from '../../core/pairing/party-store';
import { createNutBackend, InputInjector, type InputBackend } from '../../core/input/injector';
import { EventHub } from '../../core/rpc/event-hub';
import { SharingService } from '../../core/sharing/sharing-service';
import { StoreCorruptError } from '../../core/store/atomic-json';
import { defaultPaths } from '../../core/paths';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';
import { printResult } from '../output';

const USAGE = [
  "gpu-bridge pair '<gpubridge://pair?…>' [--name NAME] [--config-dir DIR] [--json]",
  '       gpu-bridge pair list [--config-dir DIR] [--json]',
  '       gpu-bridge pair revoke <peer> [--config-dir DIR] [--json]',
  '       gpu-bridge pair scopes <peer> <view,input|none> [--config-dir DIR] [--json]',
].join('\n');

const OPTIONS = { 'config-dir': { type: 'string' }, json: { type: 'boolean' }, name: { type: 'string' } } as const;

function hostDirs(configDir: string | undefined) {
  const paths = defaultPaths();
  const dir = configDir ?? paths.configDir;
  return { configDir: dir, audit: new AuditLog(join(configDir ?? paths.stateDir, 'audit.jsonl')), peers: new PartyStore(dir, 'peers') };
}

async function cliErrors<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof StoreCorruptError || error instanceof ApiError) throw new CliError(error.message);
    throw error;
  }
}

async function findPeer(peers: PartyStore, ref: string | undefined): Promise<PeerRecord> {
  if (!ref) throw new CliError(`name the peer\nusage: ${USAGE}`, 2);
  const peer = await peers.find(ref);
  if (!peer) throw new CliError(`no paired peer "${ref}" (see \`gpu-bridge pair list\`)`);
  return peer;
}

export const pairCommand: CliCommand = {
  name: 'pair',
  summary: 'pair this host with a peer from its URI; list, revoke, set scopes of paired peers',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS, USAGE, true);
    const { configDir, audit, peers } = hostDirs(values['config-dir']);
    const [first, ...rest] = positionals;
    return cliErrors(async () => {
      if (first === 'list') {
        const list = await peers.list();
        printResult(values.json, list, list.length === 0 ? '(no paired peers)' : list.map((p) => `${p.name.padEnd(20)} ${p.revokedAt ? 'revoked' : 'active '} ${p.addr ?? ''} scopes=${p.scopes.join(',') || 'none'} ${p.fingerprint}`).join('\n'));
        return 0;
      }
      if (first === 'revoke') {
        const peer = await findPeer(peers, rest[0]);
        const revoked = (await peers.revoke(peer.fingerprint))!;
        await audit.append({ action: 'peer.revoke', target: `${peer.name} ${peer.fingerprint}`, result: 'ok', detail: null });
        printResult(values.json, revoked, `revoked ${peer.name}`);
        return 0;
      }
      if (first === 'scopes') {
        const peer = await findPeer(peers, rest[0]);
        const text = rest[1];
        if (text === undefined) throw new CliError(`give the scopes, e.g. view,input or none\nusage: ${USAGE}`, 2);
        const scopes = text === 'none' ? [] : text.split(',').map((s) => {
          const parsed = PeerScope.safeParse(s.trim());
          if (!parsed.success) throw new CliError(`unknown scope "${s}" (view, input)`, 2);
          return parsed.data;
        });
        const updated = await peers.setScopes(peer.fingerprint, scopes);
        if (!updated) throw new CliError(`peer ${peer.name} is revoked`);
        const added = scopes.filter((s) => !peer.scopes.includes(s));
        const removed = peer.scopes.filter((s) => !scopes.includes(s));
        await audit.append({ action: 'peer.scopes', target: `${peer.name} ${peer.fingerprint}`, result: 'ok', detail: `grant [${added.join(',')}] withdraw [${removed.join(',')}]` });
        printResult(values.json, updated, `${peer.name}: scopes ${updated.scopes.join(',') || 'none'}`);
        return 0;
      }
      if (!first || rest.length > 0) throw new CliError(`give one pairing URI\nusage: ${USAGE}`, 2);
      const identity = await loadOrCreateIdentity(configDir, 'gpu-bridge host');
      const record = await pairWithPeer({ identity, peers, audit, uri: first, name: values.name });
      printResult(values.json, record, `paired with ${record.name} at ${record.addr} (fingerprint ${record.fingerprint}); scopes: ${record.scopes.join(',')} (grant input with: gpu-bridge pair scopes ${record.name} view,input)`);
      return 0;
    });
  },
};

const CONNECT_USAGE = 'gpu-bridge connect <peer> [--config-dir DIR] [--idle-heartbeat-ms N] [--json]   (SIGUSR1 = kill switch; an idle channel pings every 10 s and calls a silent peer offline after 2.5 pings)';

/** Holds the control channel to one paired peer and injects its input while it has the input scope. */
export const connectCommand: CliCommand = {
  name: 'connect',
  summary: 'hold the control channel to a paired peer: heartbeats, RTT, clock offset, input (kill switch: SIGUSR1)',
  usage: CONNECT_USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { 'config-dir': { type: 'string' }, 'idle-heartbeat-ms': { type: 'string' }, json: { type: 'boolean' } }, CONNECT_USAGE, true);
    const idleHeartbeatMs = values['idle-heartbeat-ms'] === undefined ? undefined : Number(values['idle-heartbeat-ms']);
    if (idleHeartbeatMs !== undefined && (!Number.isInteger(idleHeartbeatMs) || idleHeartbeatMs < 500 || idleHeartbeatMs > 60_000)) {
      throw new CliError(`--idle-heartbeat-ms must be an integer from 500 to 60000, got "${values['idle-heartbeat-ms']}"`, 2);
    }
    const { configDir, audit, peers } = hostDirs(values['config-dir']);
    const emit = (event: Record<string, unknown>) =>
      process.stdout.write(values.json ? `${JSON.stringify(event)}\n` : `${Object.entries(event).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}\n`);
    return cliErrors(async () => {
      const peer = await findPeer(peers, positionals[0]);
      if (peer.revokedAt !== null) throw new CliError(`peer ${peer.name} is revoked; pair again to use it`);
      const identity = await loadOrCreateIdentity(configDir, 'gpu-bridge host');
      const sharing = new SharingService(new EventHub(), audit);
      await sharing.set(true, 'cli:connect', `session with ${peer.name}`);
      const connection = new HostConnection(identity, peer, { peers, audit, idleHeartbeatMs });
      let scopes = peer.scopes;
      let killed = false;
      const refreshScopes = async () => {
        const current = await peers.get(peer.fingerprint).catch(() => null);
        scopes = current && current.revokedAt === null ? current.scopes : [];
      };
      const scopeTimer = setInterval(() => void refreshScopes(), 500);
      let backend: Promise<InputBackend> | null = null;
      const lazyBackend: InputBackend = {
        keyDown: async (k) => (await (backend ??= createNutBackend())).keyDown(k),
        keyUp: async (k) => (await (backend ??= createNutBackend())).keyUp(k),
        move: async (x, y) => (await (backend ??= createNutBackend())).move(x, y),
        button: async (b, d) => (await (backend ??= createNutBackend())).button(b, d),
        wheel: async (x, y) => (await (backend ??= createNutBackend())).wheel(x, y),
      };
      const injector = new InputInjector(lazyBackend, {
        allowed: () => {
          if (killed || !sharing.sharing) return { ok: false, reason: 'kill switch used / sharing off' };
          if (!connection.status().online) return { ok: false, reason: 'no live session' };
          if (!scopes.includes('input')) return { ok: false, reason: 'peer lacks the input scope' };
          return { ok: true };
        },
      });
      let refusedInputs = 0;
      sharing.onKill(async () => {
        killed = true;
        await injector.releaseAll();
        connection.stop();
        emit({ event: 'killed' });
      });
      connection.on('online', () => emit({ event: 'online', peer: peer.name }));
      connection.on('offline', (reason: string) => {
        void injector.releaseAll();
        emit({ event: 'offline', reason });
      });
      connection.on('dial-failed', (reason: string) => emit({ event: 'dial-failed', reason }));
      connection.on('peer-error', (reason: string) => emit({ event: 'peer-error', reason }));
      connection.on('sample', (sample: { rttMs: number; offsetMs: number | null }) => emit({ event: 'sample', ...sample }));
      connection.on('input', (event: InputEvent) => {
        void injector.inject(event).then(
          async (result) => {
            if (!result.injected) {
              refusedInputs += 1;
              // audit the first refusal of a run of refusals, not every event
              if (refusedInputs === 1) await audit.append({ who: `peer:${peer.name}`, action: 'input.inject', target: peer.fingerprint, result: 'refused', detail: result.reason });
            } else refusedInputs = 0;
            emit({ event: 'input', kind: event.kind, ...result });
          },
          (error: unknown) => emit({ event: 'input', kind: event.kind, injected: false, reason: (error as Error).message }),
        );
      });
      const done = new Promise<number>((resolve) => {
        connection.on('refused', (reason: string) => {
          emit({ event: 'refused', reason });
          resolve(3);
        });
        process.once('SIGINT', () => resolve(0));
        process.once('SIGTERM', () => resolve(0));
      });
      process.on('SIGUSR1', () => void sharing.kill('signal:SIGUSR1'));
      connection.start();
      const code = await done;
      clearInterval(scopeTimer);
      connection.stop();
      await injector.releaseAll();
      return code;
    });
  },
};
