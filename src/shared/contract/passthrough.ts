import { z } from 'zod';
import { method } from './define';

export const Bdf = z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/, 'a PCI address like 0000:01:00.0');

export const PlanDevice = z.object({
  address: z.string(),
  driver: z.string().nullable(),
  role: z.enum(['gpu', 'audio', 'usb', 'serial', 'storage', 'network', 'crypto', 'other']),
  why: z.string().optional().describe('why it moves: the GPU, a member of a group that moves, the card\'s own audio (same slot, or behind the card\'s own switch), asked for'),
});

export const PlanOptional = PlanDevice.extend({
  group: z.number().int().nullable(),
  reason: z.string(),
  hostLoss: z.array(z.string()).describe('what the host would lose with it: input devices, mounted filesystems, the default route'),
});

const Evidence = z.object({ file: z.string(), value: z.string() });

export const PlanFinding = z.object({ code: z.string(), message: z.string(), devices: z.array(z.string()), evidence: z.array(Evidence).optional() });

/** Optional functions of the GPU's slot to move as well (`--with` on the CLI). */
const WithExtras = z.array(Bdf).max(8).optional();

export const PassthroughPlan = z.object({
  target: z.string(),
  viable: z.boolean(),
  devices: z.array(PlanDevice).describe('every function that must move to vfio-pci'),
  optional: z.array(PlanOptional).describe('the card\'s other functions (its slot, or behind its own PCIe switch) in other IOMMU groups: they stay on the host unless asked for'),
  hostOnly: z
    .array(z.object({ address: z.string(), role: PlanDevice.shape.role, reason: z.string() }))
    .describe('functions of the card\'s slot the host\'s platform needs (the platform security processor, SMBus, LPC): never offered'),
  cardSwitch: z.string().nullable().describe('the upstream port of the card\'s own PCIe switch (Intel Arc, AMD Navi), when the GPU sits behind one'),
  with: z.array(z.string()),
  physfn: z.string().nullable().describe('the physical function, when the target is an SR-IOV virtual function'),
  blockers: z.array(PlanFinding),
  warnings: z.array(PlanFinding),
});
export type PassthroughPlan = z.infer<typeof PassthroughPlan>;

export const PreflightCheck = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['pass', 'warn', 'fail', 'unknown']),
  evidence: z.array(z.object({ file: z.string(), value: z.string() })),
  remedy: z.string().nullable(),
});
export type PreflightCheck = z.infer<typeof PreflightCheck>;

export const HostBoot = z.object({
  distro: z.string().nullable(),
  bootloader: z.enum(['grub', 'systemd-boot', 'kernelstub', 'unknown']),
  initramfs: z.enum(['initramfs-tools', 'dracut', 'mkinitcpio', 'unknown']),
});

export const ToggleResult = z.object({
  ok: z.boolean(),
  verb: z.string(),
  target: z.string().nullable(),
  devices: z.array(z.object({ address: z.string(), before: z.string().nullable(), after: z.string().nullable() })),
  steps: z.array(z.object({ what: z.string(), path: z.string(), value: z.string(), ok: z.boolean(), ms: z.number(), error: z.string().nullable() })),
  rolledBack: z.boolean(),
  recovered: z.string().nullable(),
  verification: z.object({ drivers: z.boolean(), vfioNodes: z.boolean(), viable: z.boolean() }).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type ToggleResult = z.infer<typeof ToggleResult>;

export const passthroughMethods = {
  'passthrough.plan': method({
    description: 'Every function that must move to vfio-pci for this GPU (and the optional ones asked for), with blockers and warnings.',
    params: z.object({ address: Bdf, with: WithExtras }).strict(),
    result: PassthroughPlan,
  }),
  'passthrough.checks': method({
    description: 'Host preflight checks (and, with an address, the GPU checks), each with evidence and a remedy.',
    params: z.object({ address: Bdf.optional() }).strict().optional(),
    result: z.object({ boot: HostBoot, checks: z.array(PreflightCheck) }),
  }),
  'passthrough.bind': method({
    description: 'Move the GPU and every function of its plan (with the optional ones asked for) to vfio-pci through the privileged helper.',
    params: z.object({ address: Bdf, with: WithExtras }).strict(),
    result: ToggleResult,
  }),
  'passthrough.restore': method({
    description: 'Give the GPU and its functions back to their host drivers through the privileged helper.',
    params: z.object({ address: Bdf }).strict(),
    result: ToggleResult,
  }),
  'passthrough.sriov': method({
    description: "Set an SR-IOV physical function's number of virtual functions (0 removes them) through the privileged helper; refused while one of its VFs is on vfio-pci.",
    params: z.object({ address: Bdf, vfs: z.number().int().min(0).max(256) }).strict(),
    result: ToggleResult,
  }),
};

export const passthroughEvents = {};
