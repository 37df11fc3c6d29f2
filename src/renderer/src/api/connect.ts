import { ApiClient } from './client';
import { createIpcTransport } from './ipc-transport';
import { createWsTransport } from './ws-transport';

const TOKEN_KEY = 'gpu-bridge.token';

/** Picks the transport for where the UI runs: Electron's preload bridge, else the web shell's WebSocket. */
export function connectToHost(): ApiClient {
  if (window.gpuBridge) return new ApiClient(createIpcTransport(window.gpuBridge));
  const params = new URLSearchParams(window.location.search);
  const view = viewLinkToken();
  if (view) {
    // a view link: watching only, its secret out of the address bar too
    params.delete('view');
    const rest = params.toString();
    window.history.replaceState(null, '', `${window.location.pathname}${rest ? `?${rest}` : ''}${window.location.hash}`);
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return new ApiClient(createWsTransport({ url: `${scheme}://${window.location.host}/ws?view=${encodeURIComponent(view)}` }));
  }
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    // Keep the token out of the address bar, history and screenshots; the session keeps it.
    params.delete('token');
    const rest = params.toString();
    window.history.replaceState(null, '', `${window.location.pathname}${rest ? `?${rest}` : ''}${window.location.hash}`);
  }
  const token = fromUrl ?? sessionStorage.getItem(TOKEN_KEY) ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${window.location.host}/ws?token=${encodeURIComponent(token)}`;
  return new ApiClient(createWsTransport({ url }));
}

const VIEW_KEY = 'gpu-bridge.view';

/** The view link this page was opened with (someone else's browser, allowed to watch only), or null. */
export function viewLinkToken(): string | null {
  if (window.gpuBridge) return null;
  const fromUrl = new URLSearchParams(window.location.search).get('view');
  if (fromUrl) sessionStorage.setItem(VIEW_KEY, fromUrl);
  return fromUrl ?? sessionStorage.getItem(VIEW_KEY);
}
