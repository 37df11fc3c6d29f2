import { z } from 'zod';
import { method } from './define';
import { Bdf } from './passthrough';

/**
 * A libvirt domain name as GPU Bridge accepts it: libvirt itself allows almost anything but '/', so
 * 1–64 characters, no '/', no control characters, and not starting with '-' (it always travels as one
 * argv element after the options, but a name that looks like an option is refused anyway).
 */
export const VmDomainName = z
  .string()
  .min(1)
  .max(64)
  .refine((name) => !name.includes('/'), 'a libvirt domain name has no "/"')
  // eslint-disable-next-line no-control-regex
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'a libvirt domain name has no control characters')
  .refine((name) => !name.startsWith('-'), 'a libvirt domain name this tool accepts does not start with "-"');

export const VmDomain = z.object({
  name: z.string(),
  state: z.string().describe("virsh domstate's words: running, shut off, paused, …"),
  running: z.boolean(),
  hostdevs: z.array(z.string()).describe('host PCI addresses of the <hostdev type="pci"> the domain holds (config, and live when running)'),
});
export type VmDomain = z.infer<typeof VmDomain>;

export const VmList = z.object({
  available: z.boolean(),
  reason: z.string().nullable().describe('why libvirt cannot be used, and what to do; null when available'),
  uri: z.string(),
  domains: z.array(VmDomain),
});
export type VmList = z.infer<typeof VmList>;

const VmChangeParams = z
  .object({
    address: Bdf,
    with: z.array(Bdf).max(8).optional().describe('optional functions the plan should take along'),
    domain: VmDomainName,
  })
  .strict();

export const VmChange = z.object({
  domain: z.string(),
  live: z.boolean().describe('the domain was running: the change went to the live VM as well as its config'),
  devices: z.array(z.object({ address: z.string(), ok: z.boolean(), message: z.string() })),
  xml: z.array(z.string()).describe("the plan's <hostdev> elements as libvirt holds them now (read back from its config)"),
});
export type VmChange = z.infer<typeof VmChange>;

export const vmMethods = {
  'passthrough.vms': method({
    description: 'The libvirt domains (name, state, the PCI devices each holds), or why libvirt cannot be used.',
    params: z.object({}).strict().optional(),
    result: VmList,
  }),
  'passthrough.attach': method({
    description: "Attach every device of the GPU's plan to a libvirt domain (config, and live when it runs).",
    params: VmChangeParams,
    result: VmChange,
  }),
  'passthrough.detach': method({
    description: "Detach every device of the GPU's plan from a libvirt domain (config, and live when it runs).",
    params: VmChangeParams,
    result: VmChange,
  }),
};

export const vmEvents = {};
