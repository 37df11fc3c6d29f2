import { useStore } from '../store';
import type { ApiClient } from './client';

/** Wires the client's connection state and the app-wide events into the store. Returns an unbind. */
export function bindStore(api: ApiClient): () => void {
  const store = useStore.getState();
  const refresh = () => {
    api.call('app.info').then(store.setInfo, (error: Error) => store.setInfoError(error.message));
    api.call('sharing.get').then(store.setSharing, (error: Error) => store.notify('error', `Could not read the sharing state: ${error.message}`));
  };
  const offs = [
    api.transport.onState((state, detail) => {
      useStore.getState().setConnection(state, detail);
      if (state === 'open') refresh();
    }),
    api.on('app.heartbeat', (payload) => useStore.getState().heartbeat(payload.time)),
    api.on('sharing.changed', (payload) => useStore.getState().setSharing(payload)),
  ];
  return () => offs.forEach((off) => off());
}
