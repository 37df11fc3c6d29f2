import { ipcMain, type WebContents } from 'electron';
import type { Core } from '../core/core';
import { isTrustedIpcEvent } from './security';

export const RPC_CHANNEL = 'gpu-bridge:rpc';

/** Carries contract messages between renderer windows and core: the same raw JSON as the WebSocket. */
export function installIpcBridge(core: Core): () => void {
  const released = new Map<number, () => void>();
  const listener = (event: Electron.IpcMainEvent, text: unknown) => {
    if (!isTrustedIpcEvent(event) || typeof text !== 'string') return;
    const contents = event.sender;
    if (!released.has(contents.id)) track(contents);
    void core.dispatcher.handleRaw(text, { shell: 'desktop', clientId: `webcontents:${contents.id}` }).then((reply) => {
      if (!contents.isDestroyed()) contents.send(RPC_CHANNEL, JSON.stringify(reply));
    });
  };
  const track = (contents: WebContents) => {
    const release = core.clientConnected();
    const unsubscribe = core.events.subscribe((message) => {
      if (!contents.isDestroyed()) contents.send(RPC_CHANNEL, JSON.stringify(message));
    });
    released.set(contents.id, () => {
      unsubscribe();
      release();
    });
    contents.once('destroyed', () => {
      released.get(contents.id)?.();
      released.delete(contents.id);
    });
  };
  ipcMain.on(RPC_CHANNEL, listener);
  return () => {
    ipcMain.off(RPC_CHANNEL, listener);
    for (const release of released.values()) release();
  };
}
