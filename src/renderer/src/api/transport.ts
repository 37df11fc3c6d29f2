/** Carries raw contract messages (JSON text) between the UI and the host; the client above does not care how. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface Transport {
  send(text: string): void;
  onMessage(listener: (text: string) => void): () => void;
  onState(listener: (state: ConnectionState, detail: string | null) => void): () => void;
  readonly state: ConnectionState;
  /** Why the host ended the connection for good (it will not be retried), or null. */
  readonly ended?: string | null;
  close(): void;
}

/** What the Electron preload exposes on window.gpuBridge: the transport, nothing else. */
export interface PreloadBridge {
  send(text: string): void;
  onMessage(listener: (text: string) => void): () => void;
}

declare global {
  interface Window {
    gpuBridge?: PreloadBridge;
  }
}
