import type { ConnectionState, PreloadBridge, Transport } from './transport';

/** Electron: the preload's bridge is always connected while the window lives. */
export function createIpcTransport(bridge: PreloadBridge): Transport {
  const stateListeners = new Set<(state: ConnectionState, detail: string | null) => void>();
  return {
    state: 'open',
    send: (text) => bridge.send(text),
    onMessage: (listener) => bridge.onMessage(listener),
    onState(listener) {
      stateListeners.add(listener);
      listener('open', null);
      return () => stateListeners.delete(listener);
    },
    close: () => undefined,
  };
}
