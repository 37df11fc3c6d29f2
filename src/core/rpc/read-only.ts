import type { MethodName } from '../../shared/contract';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { Handlers } from './handlers';

/** What a recorded host still answers: reading, and the dashboard's own sampling rate (a view setting). */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set<MethodName>([
  'app.info', 'app.ping', 'inventory.get', 'metrics.status', 'metrics.history', 'metrics.setRate',
  'passthrough.plan', 'passthrough.checks', 'peers.list', 'sessions.list', 'sessions.sources', 'sharing.get',
]);

/**
 * Every handler that would change something (bind a GPU, pair, share, stream…) answers REFUSED with
 * whose snapshot this is, instead of acting: `gpu-bridge serve --from` shows a recorded host.
 */
export function readOnlyHandlers(handlers: Handlers, snapshot: { host: string; takenAt: string }): Handlers {
  const refused = () => {
    throw new ApiError(ErrorCode.Refused, `this is a snapshot of ${snapshot.host} taken ${snapshot.takenAt}: it can be looked at, not changed (run GPU Bridge on that host to act)`);
  };
  const out: Record<string, unknown> = {};
  for (const [method, handler] of Object.entries(handlers)) out[method] = READ_ONLY_METHODS.has(method) ? handler : refused;
  return out as Handlers;
}
