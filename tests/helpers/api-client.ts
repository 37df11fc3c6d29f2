import type { ServeHandle } from './spawn-cli';
import { TestWsClient } from './ws-client';

/** The contract over `serve`'s WebSocket: calls that resolve with the result or reject with {code, message}. */
export async function openApi(serve: ServeHandle): Promise<{ ws: TestWsClient; call: (method: string, params?: unknown) => Promise<unknown> }> {
  const ws = await TestWsClient.open(`${serve.origin.replace('http', 'ws')}/ws?token=${serve.token}`, { origin: serve.origin });
  const call = async (method: string, params?: unknown) => {
    const reply = await ws.call(method, params);
    if (reply.error) throw Object.assign(new Error((reply.error as { message: string }).message), { code: (reply.error as { code: string }).code });
    return reply.result;
  };
  return { ws, call };
}
