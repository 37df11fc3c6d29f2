// `gpu-bridge passthrough vms` (the libvirt domains and what each holds) and
// `gpu-bridge passthrough libvirt <address> [--attach DOMAIN | --detach DOMAIN]`: the same core functions as the
// wizard's "Give it to a VM" (core/passthrough/libvirt-domains.ts). Without a domain, libvirt prints the plan's
// <hostdev> elements. A running domain gets the devices live as well as in its config (chosen from its state).
import type { VmChange, VmList } from '../../shared/contract';
import { isValidBdf } from '../../core/inventory/pci';
import { planHostdevs } from '../../core/passthrough/libvirt';
import { attachPlan, detachPlan, listDomains, planForVm, VmError, type LibvirtOptions } from '../../core/passthrough/libvirt-domains';
import type { PassthroughPlan } from '../../core/passthrough/plan';
import { CliError } from '../command';
import { parseExtras } from './passthrough-extras';
import { openRoot } from './snapshot-root';

export interface LibvirtArgs {
  sub: 'vms' | 'libvirt';
  address: string | undefined;
  json: boolean;
  from: string | undefined;
  attach: string | undefined;
  detach: string | undefined;
  /** `--with ADDR[,ADDR]` as given (repeatable): optional functions the plan takes along (plan.ts's `with`). */
  with?: string[];
  /** A flag that only persist takes was given. */
  persistFlags?: boolean;
  usage: string;
  libvirt?: LibvirtOptions;
}

const out = (text: string) => process.stdout.write(text);

/** Exit codes: invalid input 2 (usage), refused or no such domain 3, libvirt unusable 1. */
const EXIT: Record<VmError['kind'], number> = { invalid: 2, 'not-found': 3, refused: 3, unavailable: 1 };

function renderList(list: VmList): string {
  if (list.domains.length === 0) return `libvirt at ${list.uri}: no domains (define the VM first: virt-manager, or virsh define)\n`;
  const width = Math.min(40, Math.max(...list.domains.map((d) => d.name.length)));
  const lines = list.domains.map((d) => `  ${d.name.padEnd(width)}  ${d.state.padEnd(9)}  ${d.hostdevs.length > 0 ? `holds ${d.hostdevs.join(', ')}` : 'no PCI hostdevs'}`);
  return `libvirt at ${list.uri}: ${list.domains.length} domain(s)\n${lines.join('\n')}\n`;
}

function renderChange(verb: 'attach' | 'detach', result: VmChange): string {
  const lines = result.devices.map((d) => `${d.ok ? 'ok  ' : 'FAIL'} ${d.address}  ${d.message}`);
  const where = result.live ? 'running: changed live and in its config' : 'stopped: changed in its config';
  lines.unshift(`${verb} ${JSON.stringify(result.domain)} (${where})`);
  lines.push(result.xml.length > 0 ? `libvirt's config of ${JSON.stringify(result.domain)} now holds:\n${result.xml.join('\n')}` : `libvirt's config of ${JSON.stringify(result.domain)} holds none of these devices`);
  return `${lines.join('\n')}\n`;
}

async function readPlan(a: LibvirtArgs, address: string): Promise<PassthroughPlan> {
  const extras = parseExtras(a.with, a.usage);
  const snap = await openRoot(a.from);
  try {
    return await planForVm(snap.root, address, extras);
  } finally {
    await snap.close();
  }
}

async function vms(a: LibvirtArgs): Promise<number> {
  if (a.address !== undefined) throw new CliError(`unexpected argument ${a.address}\nusage: ${a.usage}`, 2);
  if (a.from !== undefined || a.attach !== undefined || a.detach !== undefined || (a.with ?? []).length > 0) throw new CliError('vms takes only --json (it lists the live libvirt domains)', 2);
  const list = await listDomains(a.libvirt);
  if (a.json) {
    out(`${JSON.stringify(list, null, 2)}\n`);
    return list.available ? 0 : 1;
  }
  if (!list.available) throw new CliError(list.reason ?? 'libvirt is not available', 1);
  out(renderList(list));
  return 0;
}

async function libvirt(a: LibvirtArgs): Promise<number> {
  if (a.address === undefined || !isValidBdf(a.address)) {
    throw new CliError(`${a.address === undefined ? 'missing PCI address' : `"${a.address}" is not a PCI address like 0000:01:00.0`}\nusage: ${a.usage}`, 2);
  }
  if (a.attach !== undefined && a.detach !== undefined) throw new CliError('--attach and --detach: give one', 2);
  const plan = await readPlan(a, a.address);
  const domain = a.attach ?? a.detach;
  if (domain === undefined) {
    if (!plan.viable) throw new CliError(`${a.address} cannot be passed through: ${plan.blockers.map((b) => b.message).join('; ')}`, 3);
    out(`${planHostdevs(plan).join('\n')}\n`);
    return 0;
  }
  const verb = a.attach !== undefined ? 'attach' : 'detach';
  let result: VmChange;
  try {
    result = verb === 'attach' ? await attachPlan(plan, domain, a.libvirt) : await detachPlan(plan, domain, a.libvirt);
  } catch (error) {
    if (error instanceof VmError) throw new CliError(error.kind === 'refused' || error.kind === 'not-found' ? `${verb} refused: ${error.message}` : error.message, EXIT[error.kind]);
    throw error;
  }
  out(a.json ? `${JSON.stringify(result, null, 2)}\n` : renderChange(verb, result));
  return result.devices.every((d) => d.ok) ? 0 : 1;
}

export function runLibvirt(a: LibvirtArgs): Promise<number> {
  if (a.persistFlags) throw new CliError('--root, --apply, --yes, --undo and --force only apply to persist', 2);
  return a.sub === 'vms' ? vms(a) : libvirt(a);
}
