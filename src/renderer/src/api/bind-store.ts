import { forgetUnlisted, sessionLive, sessionSample } from '../metrics/session-live';
import { useStore } from '../store';
import type { ApiClient } from './client';

/** Wires the client's connection state and the app-wide events into the store. Returns an unbind. */
export function bindStore(api: ApiClient): () => void {
  const store = useStore.getState();
  const refresh = () => {
    api.call('app.info').then(store.setInfo, (error: Error) => store.setInfoError(error.message));
    api.call('sharing.get').then(store.setSharing, (error: Error) => store.notify('error', `Could not read the sharing state: ${error.message}`));
    api.call('sessions.list').then(store.setSessions, (error: Error) => store.notify('error', `Could not list the streaming sessions: ${error.message}`));
  };
  const offs = [
    api.transport.onState((state, detail) => {
      useStore.getState().setConnection(state, detail);
      if (state === 'open') refresh();
    }),
    api.on('app.heartbeat', (payload) => useStore.getState().heartbeat(payload.time)),
    api.on('sharing.changed', (payload) => useStore.getState().setSharing(payload)),
    api.on('sessions.changed', (payload) => {
      forgetUnlisted(sessionLive, payload);
      useStore.getState().setSessions(payload);
    }),
    // one viewer's second: into the live series the session charts draw from, not into React state
    api.on('sessions.second', (payload) => sessionLive.append([sessionSample(payload)])),
  ];
  return () => offs.forEach((off) => off());
}
