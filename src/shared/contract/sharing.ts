import { z } from 'zod';
import { event, method } from './define';

export const SharingState = z.object({
  sharing: z.boolean().describe('the tray toggle: whether peers may start sessions'),
  changedAt: z.string(),
  reason: z.string().nullable().describe('why it last changed, e.g. "kill switch"'),
});
export type SharingState = z.infer<typeof SharingState>;

export const sharingMethods = {
  'sharing.get': method({ description: 'Whether the GPU is offered to peers.', params: z.object({}).strict().optional(), result: SharingState }),
  'sharing.set': method({
    description: 'Turn sharing on or off.',
    params: z.object({ sharing: z.boolean() }).strict(),
    result: SharingState,
  }),
  'sharing.kill': method({
    description: 'Kill switch: stop every session and all remote input at once, and turn sharing off.',
    params: z.object({}).strict().optional(),
    result: SharingState,
  }),
};

export const sharingEvents = {
  'sharing.changed': event({ description: 'Sharing was turned on or off.', payload: SharingState }),
};
