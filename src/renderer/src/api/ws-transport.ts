import type { ConnectionState, Transport } from './transport';

export interface WsTransportOptions {
  url: string;
  /** First retry delay; doubles up to maxDelayMs, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Browser: a WebSocket to /ws that reconnects with backoff and jitter until closed. */
export function createWsTransport(options: WsTransportOptions): Transport {
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 10_000;
  const messageListeners = new Set<(text: string) => void>();
  const stateListeners = new Set<(state: ConnectionState, detail: string | null) => void>();
  let socket: WebSocket | null = null;
  let state: ConnectionState = 'connecting';
  let attempt = 0;
  let stopped = false;
  let ended: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const setState = (next: ConnectionState, detail: string | null) => {
    state = next;
    for (const listener of stateListeners) listener(next, detail);
  };

  const connect = () => {
    setState('connecting', attempt === 0 ? null : `reconnecting (attempt ${attempt + 1})`);
    const ws = new WebSocket(options.url);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState('open', null);
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') for (const listener of messageListeners) listener(event.data);
    };
    ws.onclose = (event) => {
      socket = null;
      if (stopped) return setState('closed', ended);
      // 4000-4999: the host closed it on purpose (a view link revoked or expired): reconnecting cannot help
      if (event.code >= 4000 && event.code <= 4999) {
        stopped = true;
        ended = event.reason || `closed by the host (${event.code})`;
        return setState('closed', ended);
      }
      const delay = Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() * 0.5);
      attempt += 1;
      const why = event.code === 1006 ? 'the host is unreachable' : `closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`;
      setState('closed', `${why}; retrying in ${Math.round(delay / 100) / 10} s`);
      timer = setTimeout(connect, delay);
    };
  };
  connect();

  return {
    get state() {
      return state;
    },
    get ended() {
      return ended;
    },
    send(text) {
      if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error('not connected to the host');
      socket.send(text);
    },
    onMessage(listener) {
      messageListeners.add(listener);
      return () => messageListeners.delete(listener);
    },
    onState(listener) {
      stateListeners.add(listener);
      listener(state, null);
      return () => stateListeners.delete(listener);
    },
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    },
  };
}
