import type { AuditLog } from '../audit/audit-log';
import type { HandlerGroup } from '../rpc/handlers';
import { runChecks } from './checks';
import { runHelper, type HelperAnswer } from './helper-client';
import { blockedBind } from './bind-guard';
import { computePlan } from './plan';
import { releaseFromStoppedVms } from './vm-release';

export interface PassthroughDeps {
  audit: AuditLog;
  /** `/` in production; a fake tree in tests. */
  root?: string;
  helper?: (args: string[]) => Promise<HelperAnswer>;
  /** After a restore, detach the devices from stopped libvirt domains (default: on the real host only, never on a fake tree). */
  releaseVms?: (answer: HelperAnswer) => Promise<HelperAnswer>;
  /** `root` is a served snapshot: what it did not record reads as not recorded, not as absent. */
  snapshot?: boolean;
}

export function passthroughHandlers(deps: PassthroughDeps): HandlerGroup<'passthrough.plan' | 'passthrough.checks' | 'passthrough.bind' | 'passthrough.restore' | 'passthrough.sriov'> {
  const root = deps.root ?? '/';
  const helper = deps.helper ?? ((args: string[]) => runHelper(args));
  const releaseVms = deps.releaseVms ?? (root === '/' ? (answer: HelperAnswer) => releaseFromStoppedVms(answer) : async (answer: HelperAnswer) => answer);
  const audited = async (verb: 'bind' | 'restore' | 'sriov', address: string, answer: HelperAnswer, clientId: string, args: string[] = []) => {
    await deps.audit.append({
      action: `passthrough.${verb}`,
      target: address,
      result: answer.ok ? 'ok' : answer.error?.code === 'REFUSED' || answer.error?.code === 'BUSY' ? 'refused' : 'failed',
      detail: answer.ok
        ? [...(verb === 'sriov' ? [`${args[0]} virtual functions`] : []), ...answer.devices.map((d) => `${d.address}: ${d.before ?? '-'} -> ${d.after ?? '-'}`)].join(', ')
        : `${answer.error?.message ?? 'failed'} (client ${clientId})`,
    });
    return answer;
  };
  const toggle = async (verb: 'bind' | 'restore' | 'sriov', address: string, extras: readonly string[], clientId: string, args: string[] = []) =>
    audited(verb, address, await helper([verb, address, ...args, ...(extras.length > 0 ? ['--with', extras.join(',')] : [])]), clientId, args);
  return {
    'passthrough.plan': (params) => computePlan(root, params.address, { with: params.with ?? [] }),
    'passthrough.checks': (params) => runChecks(root, params?.address, { snapshot: deps.snapshot ?? false }),
    'passthrough.bind': async (params, ctx) => {
      const blocked = blockedBind(await computePlan(root, params.address, { with: params.with ?? [] }));
      return blocked ? audited('bind', params.address, blocked, ctx.clientId) : toggle('bind', params.address, params.with ?? [], ctx.clientId);
    },
    // the helper restores what it bound (its record holds the extras)
    'passthrough.restore': async (params, ctx) => releaseVms(await toggle('restore', params.address, [], ctx.clientId)),
    'passthrough.sriov': (params, ctx) => toggle('sriov', params.address, [], ctx.clientId, [String(params.vfs)]),
  };
}
