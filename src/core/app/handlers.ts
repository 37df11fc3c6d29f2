import { hostname } from 'node:os';
import type { Capabilities } from '../../shared/contract';
import type { HandlerGroup } from '../rpc/handlers';
import { VERSION } from '../version';

export interface AppDeps {
  shell: 'desktop' | 'web';
  startedAt: Date;
  capabilities: () => Promise<Capabilities>;
}

export function appHandlers(deps: AppDeps): HandlerGroup<'app.info' | 'app.ping'> {
  return {
    'app.info': async () => ({
      name: 'gpu-bridge',
      version: VERSION,
      hostname: hostname(),
      shell: deps.shell,
      platform: process.platform,
      arch: process.arch,
      pid: process.pid,
      startedAt: deps.startedAt.toISOString(),
      capabilities: await deps.capabilities(),
    }),
    'app.ping': (params) => ({ nonce: params?.nonce ?? null, time: new Date().toISOString() }),
  };
}
