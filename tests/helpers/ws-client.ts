import WebSocket from 'ws';

/** A minimal contract client over the web shell's WebSocket, for tests. */
export class TestWsClient {
  private nextId = 1;
  private readonly waiting = new Map<number | string, (message: Record<string, unknown>) => void>();
  readonly unmatched: Array<Record<string, unknown>> = [];
  readonly events: Array<Record<string, unknown>> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (typeof message.event === 'string') return void this.events.push(message);
      const id = message.id as number | string | null;
      const waiter = id === null ? undefined : this.waiting.get(id);
      if (waiter && id !== null) {
        this.waiting.delete(id);
        waiter(message);
      } else this.unmatched.push(message);
    });
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestWsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => resolve(new TestWsClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
  }

  call(method: string, params?: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return this.sendRaw(JSON.stringify({ id, method, params }), id);
  }

  /** Sends raw text; resolves with the reply carrying `expectId`, or the next id-less reply. */
  sendRaw(text: string | Buffer, expectId: number | string | null = null, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${String(text).slice(0, 80)}`)), timeoutMs);
      const done = (message: Record<string, unknown>) => {
        clearTimeout(timer);
        resolve(message);
      };
      if (expectId !== null) this.waiting.set(expectId, done);
      else {
        const before = this.unmatched.length;
        const poll = setInterval(() => {
          if (this.unmatched.length > before) {
            clearInterval(poll);
            done(this.unmatched.shift()!);
          }
        }, 2);
      }
      this.ws.send(text);
    });
  }

  close(): void {
    this.ws.close();
  }
}
