import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { seededRandom } from '../util/seeded-random';

export interface LinkProfile {
  /** Added to every datagram, each way. */
  oneWayDelayMs: number;
  /** Share of datagrams dropped at random, each way (0..1). */
  loss: number;
  /** Towards the target only: a bottleneck of this many kbit/s with a queue, like a congested uplink. */
  capKbps?: number | null;
  /**
   * The bottleneck's queue, as the ms it takes to drain: a datagram that would wait longer is dropped
   * (tail drop, as a router's FIFO). Unset: the queue never fills.
   */
  queueMs?: number | null;
  /** Seed of the random loss (default 1): the same seed drops the same datagrams, by their order each way. */
  seed?: number;
}

/** Datagrams held at once (delayed, in flight): a bound on memory, far above any real session's. */
const MAX_IN_FLIGHT = 50_000;

/**
 * A link in user space (this kernel has no netem): UDP from a caller to `target`, each datagram delayed
 * and a share of them dropped, both ways; replies go back to the caller's address. `outage(ms)` drops
 * everything both ways for a while, as a link that goes away. The loss is pseudo-random from a seed, one
 * sequence each way, so a run can be repeated (a test whose premise is "some packets were lost" does not
 * depend on luck). Towards the target it may have a bottleneck (`capKbps`) whose FIFO holds `queueMs`
 * of traffic and drops what comes when it is full. Loopback and test use only.
 */
export class UdpRelay {
  private readonly front: Socket;
  private readonly back: Socket;
  private caller: RemoteInfo | null = null;
  private linkFreeAt = 0;
  private downUntil = 0;
  private inFlight = 0;
  private closed = false;
  private readonly random: { towardsTarget: () => number; back: () => number };
  dropped = 0;
  forwarded = 0;
  /** Of `dropped`, those the bottleneck's full queue dropped (tail drop). */
  queueDropped = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private profile: LinkProfile,
  ) {
    const seed = profile.seed ?? 1;
    this.random = { towardsTarget: seededRandom(seed), back: seededRandom(seed ^ 0x5bd1e995) };
    const family = isIPv6(target.host) ? 'udp6' : 'udp4';
    this.front = createSocket(family);
    this.back = createSocket(family);
  }

  /** Binds the caller-facing port (on the target's address) and returns it. */
  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.front.bind(0, this.target.host, () => resolve()));
    await new Promise<void>((resolve) => this.back.bind(0, this.target.host, () => resolve()));
    for (const socket of [this.front, this.back]) {
      socket.setRecvBufferSize(8 << 20);
      socket.setSendBufferSize(8 << 20);
    }
    this.front.on('message', (data, from) => {
      this.caller = from;
      this.pass(data, true, () => this.back.send(data, this.target.port, this.target.host));
    });
    this.back.on('message', (data, from) => {
      const caller = this.caller;
      if (!caller || from.port !== this.target.port) return;
      this.pass(data, false, () => this.front.send(data, caller.port, caller.address));
    });
    return this.front.address().port;
  }

  setProfile(profile: LinkProfile): void {
    this.profile = profile;
  }

  /** Puts a bottleneck towards the target (or lifts it, with null) from now on; what is queued drains as it was. */
  setBottleneck(bottleneck: { capKbps: number; queueMs: number | null } | null): void {
    this.profile = { ...this.profile, capKbps: bottleneck?.capKbps ?? null, queueMs: bottleneck?.queueMs ?? null };
  }

  /** Drops every datagram, both ways, for `ms` from now. */
  outage(ms: number): void {
    this.downUntil = performance.now() + ms;
  }

  private pass(data: Buffer, towardsTarget: boolean, send: () => void): void {
    const now = performance.now();
    const draw = towardsTarget ? this.random.towardsTarget() : this.random.back();
    if (now < this.downUntil || draw < this.profile.loss || this.inFlight >= MAX_IN_FLIGHT) {
      this.dropped += 1;
      return;
    }
    let wait = this.profile.oneWayDelayMs;
    if (towardsTarget && this.profile.capKbps) {
      // serialise onto the narrow link: each datagram leaves when the previous one has
      const queued = Math.max(this.linkFreeAt, now) - now;
      const queueMs = this.profile.queueMs;
      if (queueMs != null && queued > queueMs) {
        this.dropped += 1;
        this.queueDropped += 1;
        return;
      }
      this.linkFreeAt = now + queued + (data.length * 8) / this.profile.capKbps;
      wait += this.linkFreeAt - now;
    }
    this.forwarded += 1;
    if (wait <= 0) {
      send();
      return;
    }
    this.inFlight += 1;
    setTimeout(() => {
      this.inFlight -= 1;
      if (!this.closed) send();
    }, wait);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.front.close();
    this.back.close();
  }
}
