import type { HelperAnswer } from './helper-client';
import { detachDevices, listDomains, type LibvirtOptions } from './libvirt-domains';

/**
 * The way back's last step: after the helper gave the devices back to the host, a stopped libvirt domain
 * whose config still names them would fail to start (managed='no': libvirt does not rebind them). Each
 * such config is detached, one step per device in the helper's answer. A running domain is never touched
 * (the helper refuses a restore while a VM holds the device open). libvirt absent or down: nothing to do.
 */
export async function releaseFromStoppedVms(answer: HelperAnswer, options: LibvirtOptions = {}): Promise<HelperAnswer> {
  if (!answer.ok || answer.devices.length === 0) return answer;
  const addresses = answer.devices.map((d) => d.address);
  const list = await listDomains(options).catch(() => null);
  if (!list?.available) return answer;
  const steps = [...answer.steps];
  for (const domain of list.domains) {
    const held = addresses.filter((a) => domain.hostdevs.includes(a));
    if (held.length === 0 || domain.running) continue;
    const started = Date.now();
    try {
      const change = await detachDevices(held, domain.name, options);
      for (const d of change.devices) {
        steps.push({ what: `${d.address}: detach from the config of libvirt domain ${JSON.stringify(domain.name)}`, path: 'virsh detach-device --config', value: d.message, ok: d.ok, ms: Date.now() - started, error: d.ok ? null : d.message });
      }
    } catch (error) {
      steps.push({ what: `detach ${held.join(', ')} from libvirt domain ${JSON.stringify(domain.name)}`, path: 'virsh detach-device --config', value: '', ok: false, ms: Date.now() - started, error: (error as Error).message });
    }
  }
  return { ...answer, steps };
}
