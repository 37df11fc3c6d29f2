import type { EventName, MethodName, ParamsOf, PayloadOf, ResultOf } from '../../../shared/contract';
import { ErrorCode, isApiErrorBody, type ApiErrorBody } from '../../../shared/errors';
import type { Transport } from './transport';

/** A failed call, with the host's stable error code. */
export class RemoteError extends Error {
  readonly code: string;
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.name = 'RemoteError';
    this.code = body.code;
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Typed calls and event subscriptions over any transport (Electron IPC or WebSocket). */
export class ApiClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  /** Requests made while (re)connecting: sent once the transport opens, or timed out. */
  private outbox: Array<{ id: number; text: string }> = [];

  constructor(
    readonly transport: Transport,
    private readonly timeoutMs = 30_000,
  ) {
    transport.onMessage((text) => this.receive(text));
    transport.onState((state) => {
      if (state === 'open') return this.flush();
      if (state !== 'closed') return;
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new RemoteError({ code: ErrorCode.Unavailable, message: 'the connection to the host was lost' }));
        this.pending.delete(id);
      }
    });
  }

  call<M extends MethodName>(method: M, ...args: undefined extends ParamsOf<M> ? [params?: ParamsOf<M>] : [params: ParamsOf<M>]): Promise<ResultOf<M>> {
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RemoteError({ code: ErrorCode.Timeout, message: `${method} did not answer within ${this.timeoutMs / 1000} s` }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const text = JSON.stringify({ id, method, params: args[0] });
      if (this.transport.state !== 'open') {
        this.outbox.push({ id, text });
        return;
      }
      try {
        this.transport.send(text);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new RemoteError({ code: ErrorCode.Unavailable, message: (error as Error).message }));
      }
    });
  }

  private flush(): void {
    const queued = this.outbox;
    this.outbox = [];
    for (const { id, text } of queued) {
      if (!this.pending.has(id)) continue;
      try {
        this.transport.send(text);
      } catch {
        this.outbox.push({ id, text });
      }
    }
  }

  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const wrapped = listener as (payload: unknown) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  private receive(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const record = message as Record<string, unknown>;
    if (typeof record.event === 'string') {
      for (const listener of this.listeners.get(record.event) ?? []) listener(record.payload);
      return;
    }
    if (typeof record.id !== 'number') return;
    const pending = this.pending.get(record.id);
    if (!pending) return;
    this.pending.delete(record.id);
    clearTimeout(pending.timer);
    if ('error' in record && isApiErrorBody(record.error)) pending.reject(new RemoteError(record.error));
    else pending.resolve(record.result);
  }
}
