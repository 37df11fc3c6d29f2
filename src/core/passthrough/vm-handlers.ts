import type { VmChange } from '../../shared/contract';
import { ApiError, ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { HandlerGroup } from '../rpc/handlers';
import { attachPlan, detachPlan, listDomains, planForVm, VmError, type LibvirtOptions } from './libvirt-domains';
import type { PassthroughPlan } from './plan';

export interface VmDeps {
  audit: AuditLog;
  /** `/` in production; a fake tree in tests (the plan is read from it). */
  root?: string;
  /** The libvirt connection and virsh program (default: LIBVIRT_DEFAULT_URI or qemu:///system, `virsh` on PATH). */
  libvirt?: LibvirtOptions;
  plan?: (root: string, address: string, extras: string[]) => Promise<PassthroughPlan>;
}

const CODE: Record<VmError['kind'], ErrorCode> = {
  invalid: ErrorCode.InvalidParams,
  unavailable: ErrorCode.Unavailable,
  'not-found': ErrorCode.NotFound,
  refused: ErrorCode.Refused,
};

/** "Give it to a VM": passthrough.vms, and passthrough.attach and passthrough.detach, each audited. */
export function vmHandlers(deps: VmDeps): HandlerGroup<'passthrough.vms' | 'passthrough.attach' | 'passthrough.detach'> {
  const root = deps.root ?? '/';
  const plan = deps.plan ?? planForVm;
  const change = async (verb: 'attach' | 'detach', params: { address: string; with?: string[]; domain: string }, clientId: string): Promise<VmChange> => {
    const action = `passthrough.${verb}`;
    const target = `${params.address} ${verb === 'attach' ? '->' : '<-'} ${params.domain}`;
    try {
      const p = await plan(root, params.address, params.with ?? []);
      const result = verb === 'attach' ? await attachPlan(p, params.domain, deps.libvirt) : await detachPlan(p, params.domain, deps.libvirt);
      await deps.audit.append({
        action,
        target,
        result: result.devices.every((d) => d.ok) ? 'ok' : 'failed',
        detail: `${result.live ? 'live+config' : 'config'}: ${result.devices.map((d) => `${d.address} ${d.ok ? 'ok' : 'FAILED'} (${d.message})`).join(', ')} (client ${clientId})`,
      });
      return result;
    } catch (error) {
      const refused = error instanceof VmError && error.kind !== 'unavailable';
      await deps.audit.append({ action, target, result: refused ? 'refused' : 'failed', detail: `${error instanceof Error ? error.message : String(error)} (client ${clientId})` });
      if (error instanceof VmError) throw new ApiError(CODE[error.kind], error.message);
      throw error;
    }
  };
  return {
    // a read: not audited (the audit log records changes)
    'passthrough.vms': () => listDomains(deps.libvirt),
    'passthrough.attach': (params, ctx) => change('attach', params, ctx.clientId),
    'passthrough.detach': (params, ctx) => change('detach', params, ctx.clientId),
  };
}
