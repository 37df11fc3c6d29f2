import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/**
 * Sits between an rtp sender and its receiver on loopback and records every datagram it forwards, both
 * ways. Only the sender sends to it from anywhere but the receiver's port, so the first such source is
 * the sender's (its feedback port).
 */
export class Forwarder {
  port = 0;
  sender: { address: string; port: number } | null = null;
  /** Forwarded sender → receiver (SRTP media and FEC, SRTCP sender reports), in order. */
  readonly toReceiver: Buffer[] = [];
  /** Forwarded receiver → sender (SRTCP feedback), in order. */
  readonly toSender: Buffer[] = [];
  readonly dropped: Buffer[] = [];
  /** Sender → receiver datagrams for which this says true are dropped (and kept in `dropped`). */
  drop: (packet: Buffer) => boolean = () => false;
  /** How long to hold the n-th receiver → sender datagram (0: pass it on at once). */
  holdFeedbackMs: (index: number) => number = () => 0;
  private socket: Socket | null = null;

  constructor(
    private readonly receiverPort: number,
    private readonly host = '127.0.0.1',
  ) {}

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('error', () => undefined);
    socket.on('message', (data, from) => this.onMessage(data, from));
    await new Promise<void>((resolve) => socket.bind(0, this.host, () => resolve()));
    this.socket = socket;
    this.port = socket.address().port;
  }

  /**
   * Sends to the sender from this forwarder's address, the only one its connected socket accepts: what an
   * attacker on the path (able to spoof the peer's address) could deliver.
   */
  injectToSender(data: Uint8Array): void {
    if (this.sender) this.socket!.send(data, this.sender.port, this.sender.address);
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private onMessage(data: Buffer, from: RemoteInfo): void {
    if (!this.socket) return;
    if (from.port === this.receiverPort) {
      if (!this.sender) return;
      const hold = this.holdFeedbackMs(this.toSender.length);
      this.toSender.push(data);
      const sender = this.sender;
      if (hold > 0) setTimeout(() => this.socket?.send(data, sender.port, sender.address), hold);
      else this.socket.send(data, sender.port, sender.address);
      return;
    }
    this.sender ??= { address: from.address, port: from.port };
    if (this.drop(data)) {
      this.dropped.push(data);
      return;
    }
    this.toReceiver.push(data);
    this.socket.send(data, this.receiverPort, this.host);
  }
}
