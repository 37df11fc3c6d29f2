import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP link with a fixed delay each way, in user space (this kernel has no netem): each chunk is passed
 * on `oneWayDelayMs` after it arrived, in order. For a control channel between a host and a peer.
 */
export class TcpDelayProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: { host: string; port: number },
    private readonly oneWayDelayMs: number,
  ) {}

  async start(): Promise<number> {
    this.server = createServer((inbound) => this.connect(inbound));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  private connect(inbound: Socket): void {
    const outbound = createConnection(this.target);
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        setTimeout(() => (socket === inbound ? outbound : inbound).end(), this.oneWayDelayMs);
      });
    }
    this.pipe(inbound, outbound);
    this.pipe(outbound, inbound);
  }

  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), this.oneWayDelayMs));
  }

  close(): void {
    this.server?.close();
    for (const socket of this.sockets) socket.destroy();
  }
}
