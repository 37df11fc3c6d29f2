import { events, type EventName, type PayloadOf } from '../../shared/contract';
import type { EventMessage } from '../../shared/protocol';

export type EventListener = (message: EventMessage) => void;

/** Fan-out of contract events to every connected client of every shell. */
export class EventHub {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  emit<E extends EventName>(name: E, payload: PayloadOf<E>): void {
    const checked = events[name].payload.safeParse(payload);
    if (!checked.success) throw new Error(`event ${name} has an invalid payload: ${checked.error.message}`);
    const message: EventMessage = { event: name, payload: checked.data };
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        // One broken client must not stop delivery to the others.
      }
    }
  }
}
