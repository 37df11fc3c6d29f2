import { connect, type Socket } from 'node:net';

const MAGIC = Buffer.from('i3-ipc');
const HEADER = MAGIC.length + 8;
export const GET_OUTPUTS = 3;
const MAX_REPLY = 1 << 20;

/**
 * sway's IPC (the i3 protocol on $SWAYSOCK): requests answered in order. Used for the outputs' geometry.
 */
export class SwayIpc {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (body: unknown) => void; reject: (error: Error) => void }> = [];
  private closedWith: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new Error(`sway's IPC failed: ${error.message}`)));
    socket.on('close', () => this.fail(new Error('sway\'s IPC closed (did sway exit?)')));
  }

  static open(path: string, timeoutMs = 3000): Promise<SwayIpc> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`sway's IPC at ${path} did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new SwayIpc(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot reach sway's IPC at ${path}: ${error.message}`));
      });
    });
  }

  request(type: number, payload = ''): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const body = Buffer.from(payload, 'utf8');
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(body.length, MAGIC.length);
    header.writeUInt32LE(type, MAGIC.length + 4);
    this.socket.write(Buffer.concat([header, body]));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= HEADER) {
      if (!this.buffer.subarray(0, MAGIC.length).equals(MAGIC)) return this.fail(new Error('sway\'s IPC sent something that is not an i3-ipc reply'));
      const length = this.buffer.readUInt32LE(MAGIC.length);
      if (length > MAX_REPLY) return this.fail(new Error(`sway's IPC reply of ${length} bytes is over the limit`));
      if (this.buffer.length < HEADER + length) return;
      const body = this.buffer.subarray(HEADER, HEADER + length).toString('utf8');
      this.buffer = this.buffer.subarray(HEADER + length);
      const waiter = this.waiting.shift();
      try {
        waiter?.resolve(JSON.parse(body));
      } catch {
        waiter?.reject(new Error('sway\'s IPC reply is not JSON'));
      }
    }
  }

  private fail(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    this.socket.destroy();
  }

  close(): void {
    this.fail(new Error('closed'));
  }
}
