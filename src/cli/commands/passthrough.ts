import { computePlan, type PassthroughPlan } from '../../core/passthrough/plan';
import { runHelper } from '../../core/passthrough/helper-client';
import { releaseFromStoppedVms } from '../../core/passthrough/vm-release';
import { blockedBind } from '../../core/passthrough/bind-guard';
import { runLibvirt } from './passthrough-libvirt';
import { parseExtras } from './passthrough-extras';
import { runPersist } from './passthrough-persist';
import { openRoot } from './snapshot-root';
import { isValidBdf } from '../../core/inventory/pci';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';

const USAGE = 'gpu-bridge passthrough plan <address> [--with ADDR]... [--json] [--from SNAPSHOT] | persist <address> [--from SNAPSHOT | --root DIR] [--apply [--yes]] (dry run by default: the diff) | persist --undo [--root DIR] [--force] | libvirt <address> [--with ADDR]... [--from SNAPSHOT] [--attach DOMAIN | --detach DOMAIN] [--json] (live as well when the domain runs) | vms [--json] (the libvirt domains and what each holds) | bind <address> [--with ADDR]... [--json] | restore <address> [--json] | sriov <PF address> --vfs N [--json] (sets its SR-IOV virtual functions, 0 removes them) | rollback [--json]';

export function renderPlan(plan: PassthroughPlan): string {
  const out = [`${plan.target}: ${plan.viable ? 'can be passed through' : 'cannot be passed through'}`];
  if (plan.cardSwitch) out.push(`the card's own PCIe switch: ${plan.cardSwitch} (its functions behind it are the card's)`);
  if (plan.devices.length) {
    out.push('moves to vfio-pci:');
    for (const d of plan.devices) out.push(`  ${d.address}  ${d.role.padEnd(6)}  ${d.driver ?? '(no driver)'}${d.why ? `  ${d.why}` : ''}`);
  }
  if (plan.optional.length) {
    out.push('stays on the host unless added with --with ADDR:');
    for (const o of plan.optional) {
      out.push(`  ${o.address}  ${o.role.padEnd(6)}  ${o.driver ?? '(no driver)'}  group ${o.group ?? 'none'}: ${o.reason}`);
      for (const loss of o.hostLoss) out.push(`      the host would lose: ${loss}`);
    }
  }
  if (plan.hostOnly.length) {
    out.push('stays with the host, never offered:');
    for (const h of plan.hostOnly) out.push(`  ${h.address}  ${h.role.padEnd(6)}  ${h.reason}`);
  }
  const findings = (kind: string, list: PassthroughPlan['blockers']) => {
    for (const f of list) {
      out.push(`${kind} ${f.code}: ${f.message}`);
      for (const e of f.evidence ?? []) out.push(`      ${e.file}: ${e.value}`);
    }
  };
  findings('blocker', plan.blockers);
  findings('warning', plan.warnings);
  return `${out.join('\n')}\n`;
}

export const passthroughCommand: CliCommand = {
  name: 'passthrough',
  summary: 'plan, bind and restore a GPU for VFIO passthrough (through the privileged helper)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, from: { type: 'string' }, attach: { type: 'string' }, detach: { type: 'string' }, root: { type: 'string' }, apply: { type: 'boolean' }, yes: { type: 'boolean' }, undo: { type: 'boolean' }, force: { type: 'boolean' }, with: { type: 'string', multiple: true }, vfs: { type: 'string' } }, this.usage, true);
    const [sub, address, ...extra] = positionals;
    if (extra.length > 0) throw new CliError(`unexpected argument ${extra[0]}\nusage: ${USAGE}`, 2);
    if (sub === 'libvirt' || sub === 'vms') return runLibvirt({ sub, address, json: values.json === true, from: values.from, attach: values.attach, detach: values.detach, with: values.with, persistFlags: values.root !== undefined || values.apply === true || values.yes === true || values.undo === true || values.force === true, usage: USAGE });
    const undo = sub === 'persist' && values.undo === true && address === undefined;
    if (sub !== 'rollback' && !undo && (address === undefined || !isValidBdf(address))) {
      throw new CliError(`${address === undefined ? 'missing PCI address' : `"${address}" is not a PCI address like 0000:01:00.0`}\nusage: ${USAGE}`, 2);
    }
    const extras = parseExtras(values.with, USAGE);
    if (extras.length > 0 && sub !== 'plan' && sub !== 'bind' && sub !== 'libvirt') throw new CliError('--with only applies to plan, bind and libvirt (restore puts back what bind took)', 2);
    if (sub !== 'persist' && (values.root !== undefined || values.apply || values.yes || values.undo || values.force)) throw new CliError('--root, --apply, --yes, --undo and --force only apply to persist', 2);
    if ((sub === 'sriov') !== (values.vfs !== undefined)) throw new CliError(sub === 'sriov' ? `sriov needs --vfs N (the number of virtual functions, 0 removes them)\nusage: ${USAGE}` : '--vfs only applies to sriov', 2);
    if (sub === 'sriov' && (!/^(0|[1-9][0-9]{0,2})$/.test(values.vfs ?? '') || Number(values.vfs) > 256)) throw new CliError(`--vfs "${String(values.vfs).slice(0, 40)}" is not a number of virtual functions from 0 to 256`, 2);
    if (sub === 'persist') {
      return runPersist({ address, json: values.json === true, from: values.from, root: values.root, apply: values.apply === true, yes: values.yes === true, undo: values.undo === true, force: values.force === true });
    }
    if (sub === 'plan') {
      const snap = await openRoot(values.from);
      let plan: PassthroughPlan;
      try {
        plan = await computePlan(snap.root, address as string, { with: extras });
      } finally {
        await snap.close();
      }
      process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
      return plan.viable ? 0 : 3;
    }
    if (sub === 'bind' || sub === 'restore' || sub === 'rollback' || sub === 'sriov') {
      if (values.from !== undefined) throw new CliError('--from only applies to plan', 2);
      // the tree the helper acts on (a fake one in tests)
      const helperRoot = process.env.GPU_BRIDGE_HELPER_ROOT || '/';
      // a bind the plan blocks never reaches the helper (bind-guard.ts)
      const blocked = sub === 'bind' ? blockedBind(await computePlan(helperRoot, address as string, { with: extras })) : null;
      let answer = blocked ?? await runHelper(sub === 'rollback' ? ['rollback'] : sub === 'sriov' ? ['sriov', address as string, values.vfs as string] : [sub, address as string, ...(extras.length > 0 ? ['--with', extras.join(',')] : [])]);
      // the real host only: a fake tree's addresses must never reach a real libvirt
      if (sub === 'restore' && helperRoot === '/') answer = await releaseFromStoppedVms(answer);
      if (values.json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      else {
        if (answer.recovered) process.stdout.write(`${answer.recovered}\n`);
        for (const s of answer.steps) process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'} ${s.what} (${s.ms} ms)${s.error ? `: ${s.error}` : ''}\n`);
        for (const d of answer.devices) process.stdout.write(`${d.address}: ${d.before ?? '(none)'} -> ${d.after ?? '(none)'}\n`);
      }
      if (!answer.ok) {
        if (values.json) return answer.error?.code === 'REFUSED' || answer.error?.code === 'BUSY' ? 2 : 1;
        throw new CliError(`${sub} ${answer.error?.code ?? 'FAILED'}: ${answer.error?.message ?? 'unknown failure'}`, answer.error?.code === 'REFUSED' || answer.error?.code === 'BUSY' ? 2 : 1);
      }
      return 0;
    }
    throw new CliError(`unknown subcommand ${sub ?? '(none)'}\nusage: ${USAGE}`, 2);
  },
};
