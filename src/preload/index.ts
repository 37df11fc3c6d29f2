import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

const RPC_CHANNEL = 'gpu-bridge:rpc';

// Exactly the transport of the API client: send a message, receive messages. Nothing else.
contextBridge.exposeInMainWorld('gpuBridge', {
  send(text: string): void {
    if (typeof text === 'string') ipcRenderer.send(RPC_CHANNEL, text);
  },
  onMessage(listener: (text: string) => void): () => void {
    const wrapped = (_event: IpcRendererEvent, text: unknown) => {
      if (typeof text === 'string') listener(text);
    };
    ipcRenderer.on(RPC_CHANNEL, wrapped);
    return () => ipcRenderer.off(RPC_CHANNEL, wrapped);
  },
});
