import type { MethodName, ParsedParamsOf, ResultOf } from '../../shared/contract';

/** Who is calling. Handlers may use it for audit lines and per-client state; never for trust decisions beyond it. */
export interface CallContext {
  shell: 'desktop' | 'web';
  /** Stable for one connection (a WebSocket, or an Electron webContents). */
  clientId: string;
}

export type Handler<M extends MethodName> = (
  params: ParsedParamsOf<M>,
  ctx: CallContext,
) => Promise<ResultOf<M>> | ResultOf<M>;

export type Handlers = { [M in MethodName]: Handler<M> };
export type HandlerGroup<K extends MethodName> = { [M in K]: Handler<M> };
