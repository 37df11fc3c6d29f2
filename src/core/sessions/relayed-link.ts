import { EventEmitter } from 'node:events';
import { UdpRelay, type LinkProfile } from '../net/udp-relay';
import type { OpenedAt, OpenRequest, ViewerLink } from './viewer-link';

/** A relay in front of one receiver: in this process (UdpRelay) or another (the bench runs it apart). */
export interface Relay {
  start(): Promise<number>;
  outage(ms: number): void;
  /** Puts a bottleneck towards the receiver (kbit/s, and a queue of that many ms; null: unbounded), or lifts it. */
  setBottleneck(bottleneck: { capKbps: number; queueMs: number | null } | null): void;
  close(): void;
}

export type RelayFactory = (target: { host: string; port: number }, profile: LinkProfile) => Relay;

const inProcess: RelayFactory = (target, profile) => new UdpRelay(target, profile);

/**
 * A viewer reached through a user-space link (this kernel has no netem): every open puts a relay with
 * the profile's delay and loss, both ways, and its bottleneck towards the viewer, in front of the
 * viewer's receiver.
 */
export class RelayedLink extends EventEmitter implements ViewerLink {
  readonly name: string;
  private readonly relays: Relay[] = [];

  constructor(
    private readonly inner: ViewerLink,
    private readonly profile: LinkProfile,
    private readonly makeRelay: RelayFactory = inProcess,
  ) {
    super();
    this.name = inner.name;
    for (const event of ['frames', 'link-stats', 'gone', 'stream-ended']) inner.on(event, (...args: unknown[]) => this.emit(event, ...args));
  }

  async open(request: OpenRequest): Promise<OpenedAt> {
    const where = await this.inner.open(request);
    const relay = this.makeRelay({ host: where.host, port: where.port }, this.profile);
    this.relays.push(relay);
    const port = await relay.start();
    // the sound crosses the same link, through a relay of its own (its own socket at both ends)
    if (where.audioPort === undefined) return { ...where, port };
    const audioRelay = this.makeRelay({ host: where.host, port: where.audioPort }, this.profile);
    this.relays.push(audioRelay);
    return { ...where, port, audioPort: await audioRelay.start() };
  }

  /** Cuts the link both ways for `ms`. */
  outage(ms: number): void {
    for (const relay of this.relays) relay.outage(ms);
  }

  /** Narrows the link towards the viewer from now on (or lifts its bottleneck, with null). */
  setBottleneck(bottleneck: { capKbps: number; queueMs: number | null } | null): void {
    for (const relay of this.relays) relay.setBottleneck(bottleneck);
  }

  async close(streamId: string, reason: string): Promise<void> {
    await this.inner.close(streamId, reason);
  }

  clock(): { offsetMs: number | null; rttMs: number | null } {
    return { offsetMs: this.inner.clock().offsetMs, rttMs: 2 * this.profile.oneWayDelayMs };
  }

  shutdown(): void {
    for (const relay of this.relays) relay.close();
  }
}
