/** Samples kept: the offset comes from the one with the shortest round trip among them. */
const KEEP = 20;

/**
 * The browser's clock minus ours, from pings over the data channel: each pong says when it reached the
 * browser; the sample with the shortest round trip (least queueing) gives the offset, NTP-style.
 */
export class ViewerClock {
  private readonly sent = new Map<number, number>();
  private samples: { rttMs: number; offsetMs: number }[] = [];
  private nextId = 1;

  ping(now: number): number {
    const id = this.nextId++;
    this.sent.set(id, now);
    if (this.sent.size > KEEP) this.sent.delete(this.sent.keys().next().value!);
    return id;
  }

  pong(id: number, browserAt: number, now: number): void {
    const sentAt = this.sent.get(id);
    if (sentAt === undefined) return;
    this.sent.delete(id);
    const rttMs = now - sentAt;
    if (rttMs < 0 || rttMs > 10_000) return;
    this.samples.push({ rttMs, offsetMs: browserAt - (sentAt + rttMs / 2) });
    if (this.samples.length > KEEP) this.samples.shift();
  }

  get estimate(): { offsetMs: number | null; rttMs: number | null } {
    if (this.samples.length === 0) return { offsetMs: null, rttMs: null };
    const best = this.samples.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
    return { offsetMs: best.offsetMs, rttMs: Math.round(best.rttMs * 10) / 10 };
  }
}
