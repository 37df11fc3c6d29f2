import type { PassthroughPlan } from './plan';

const BDF = /^([0-9a-f]{4}):([0-9a-f]{2}):([01][0-9a-f])\.([0-7])$/;

/**
 * libvirt's `<hostdev>` for one PCI function, `managed='no'`: GPU Bridge's privileged helper owns the binding
 * (journal, rollback, restore), so libvirt must not rebind the device itself when the VM starts or stops.
 * The device has to be on vfio-pci before the VM starts (step 4 of the wizard); attaching (libvirt-domains.ts)
 * goes through virsh.
 */
export function hostdevXml(address: string): string {
  const m = BDF.exec(address);
  if (!m) throw new Error(`not a PCI address: ${address}`);
  const [, domain, bus, slot, fn] = m;
  return [
    `<hostdev mode='subsystem' type='pci' managed='no'>`,
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
