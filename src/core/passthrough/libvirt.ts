import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../exec/run-command';
import type { PassthroughPlan } from './plan';

const BDF = /^([0-9a-f]{4}):([0-9a-f]{2}):([01][0-9a-f])\.([0-7])$/;

/** libvirt's `<hostdev>` for one PCI function (managed: libvirt detaches and reattaches it itself). */
export function hostdevXml(address: string): string {
  const m = BDF.exec(address);
  if (!m) throw new Error(`not a PCI address: ${address}`);
  const [, domain, bus, slot, fn] = m;
  return [
    `<hostdev mode='subsystem' type='pci' managed='yes'>`,
    `  <driver name='vfio'/>`,
    `  <source>`,
    `    <address domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/>`,
    `  </source>`,
    `</hostdev>`,
  ].join('\n');
}

/** One `<hostdev>` per device of the plan, in plan order. */
export function planHostdevs(plan: PassthroughPlan): string[] {
  return plan.devices.map((d) => hostdevXml(d.address));
}

/** A minimal domain holding the plan's hostdevs: what `virt-xml-validate` checks against libvirt's schema. */
export function domainWithHostdevs(name: string, hostdevs: string[]): string {
  const indent = (s: string) => s.split('\n').map((l) => `    ${l}`).join('\n');
  return [
    `<domain type='kvm'>`,
    `  <name>${name.replace(/[^A-Za-z0-9_.-]/g, '_')}</name>`,
    `  <memory unit='MiB'>1024</memory>`,
    `  <os><type arch='x86_64' machine='q35'>hvm</type></os>`,
    `  <devices>`,
    ...hostdevs.map(indent),
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

const DOMAIN_NAME = /^[A-Za-z0-9_.+-]{1,64}$/;

/** `virsh attach-device|detach-device <domain> <file> --config [--live]` for every hostdev of the plan. */
export async function virshHostdevs(action: 'attach' | 'detach', domain: string, hostdevs: string[], live: boolean): Promise<Array<{ xml: string; ok: boolean; message: string }>> {
  if (!DOMAIN_NAME.test(domain)) throw new Error(`"${domain.slice(0, 40)}" is not a libvirt domain name this tool accepts`);
  const dir = await mkdtemp(join(tmpdir(), 'gpu-bridge-hostdev-'));
  const out: Array<{ xml: string; ok: boolean; message: string }> = [];
  try {
    for (const [i, xml] of hostdevs.entries()) {
      const file = join(dir, `hostdev-${i}.xml`);
      await writeFile(file, `${xml}\n`);
      const args = [`${action}-device`, domain, file, '--config', ...(live ? ['--live'] : [])];
      const res = await runCommand('virsh', args, { timeoutMs: 60_000 });
      out.push({ xml, ok: res.code === 0, message: (res.spawnError ?? (res.stdout + res.stderr)).trim() });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
