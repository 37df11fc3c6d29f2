import type { z } from 'zod';
import { appEvents, appMethods } from './app';
import { inventoryEvents, inventoryMethods } from './inventory';
import { metricsEvents, metricsMethods } from './metrics';
import { passthroughEvents, passthroughMethods } from './passthrough';
import { peersEvents, peersMethods } from './peers';
import { sessionsEvents, sessionsMethods } from './sessions';
import { sharingEvents, sharingMethods } from './sharing';
import { vmEvents, vmMethods } from './vm';
import { webrtcEvents, webrtcMethods } from './webrtc';

/**
 * The one contract both shells carry. Each domain adds its own `*Methods` / `*Events` map in its own
 * file and spreads it here; nothing else needs to change for a new method to be dispatched and typed.
 */
export const methods = {
  ...appMethods,
  ...inventoryMethods,
  ...metricsMethods,
  ...sharingMethods,
  ...peersMethods,
  ...passthroughMethods,
  ...sessionsMethods,
  ...vmMethods,
  ...webrtcMethods,
} as const;

export const events = {
  ...appEvents,
  ...inventoryEvents,
  ...metricsEvents,
  ...sharingEvents,
  ...peersEvents,
  ...passthroughEvents,
  ...sessionsEvents,
  ...vmEvents,
  ...webrtcEvents,
} as const;

export type Methods = typeof methods;
export type Events = typeof events;
export type MethodName = keyof Methods;
export type EventName = keyof Events;
export type ParamsOf<M extends MethodName> = z.input<Methods[M]['params']>;
export type ParsedParamsOf<M extends MethodName> = z.output<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = z.infer<Methods[M]['result']>;
export type PayloadOf<E extends EventName> = z.infer<Events[E]['payload']>;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name);
}

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(events, name);
}

export * from './app';
export * from './inventory';
export * from './metrics';
export * from './sessions';
export * from './sharing';
export * from './peers';
export * from './passthrough';
export * from './vm';
export * from './define';
