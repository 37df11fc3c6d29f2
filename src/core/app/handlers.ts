import { hostname } from 'node:os';
import type { Capabilities } from '../../shared/contract';
import type { HandlerGroup } from '../rpc/handlers';
import { VERSION } from '../version';

export interface AppDeps {
  shell: 'desktop' | 'web';
  startedAt: Date;
  capabilities: () => Promise<Capabilities>;
  /** A recorded host's: whose and when. */
  snapshot?: { host: string; takenAt: string; source: string | null } | null;
}

export function appHandlers(deps: AppDeps): HandlerGroup<'app.info' | 'app.ping'> {
  return {
    'app.info': async () => ({
      name: 'gpu-bridge',
      version: VERSION,
      // a recorded host is shown as itself, not as the machine serving it
      hostname: deps.snapshot?.host ?? hostname(),
      shell: deps.shell,
      platform: process.platform,
      arch: process.arch,
      pid: process.pid,
      startedAt: deps.startedAt.toISOString(),
      capabilities: await deps.capabilities(),
      snapshot: deps.snapshot ?? null,
    }),
    'app.ping': (params) => ({ nonce: params?.nonce ?? null, time: new Date().toISOString() }),
  };
}
