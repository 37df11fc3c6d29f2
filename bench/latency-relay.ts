// bench/latency and bench/pacing: the emulated link, a UdpRelay in a process of its own (so its timers
// never share an event loop with the pipeline it carries). The bench's bundle started with `relay
// TARGET_PORT DELAY_MS LOSS [CAP_KBPS QUEUE_MS]`: prints its port on stdout, drops everything for N ms on
// an `outage N` line on stdin, puts a bottleneck on `bottleneck KBPS QUEUE_MS`, lifts it on `bottleneck off`.
import { createInterface } from 'node:readline';
import { spawnTied, type SupervisedSpawn } from '../src/core/sessions/child-process';
import { UdpRelay, type LinkProfile } from '../src/core/net/udp-relay';
import type { Relay } from '../src/core/sessions/relayed-link';

/** The child's side. */
export async function relayMain(args: string[]): Promise<void> {
  const [port, delay, loss, capKbps, queueMs] = args.map(Number) as [number, number, number, number?, number?];
  const relay = new UdpRelay({ host: '127.0.0.1', port }, { oneWayDelayMs: delay, loss, capKbps: capKbps || null, queueMs: queueMs || null });
  process.stdout.write(`${await relay.start()}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const outage = /^outage (\d+)$/.exec(line);
    if (outage) relay.outage(Number(outage[1]));
    const bottleneck = /^bottleneck (?:(\d+) (\d+)|off)$/.exec(line);
    if (bottleneck) relay.setBottleneck(bottleneck[1] ? { capKbps: Number(bottleneck[1]), queueMs: Number(bottleneck[2]) } : null);
  });
  process.stdin.once('end', () => {
    relay.close();
    process.exit(0);
  });
}

/** Processes of relays still running, for the SIGINT handler. */
export const relays = new Set<SupervisedSpawn>();

/** The parent's handle on a relay child (the RelayedLink factory). */
export function childRelay(target: { host: string; port: number }, profile: LinkProfile): Relay {
  let child: SupervisedSpawn | null = null;
  return {
    async start() {
      const link = [String(target.port), String(profile.oneWayDelayMs), String(profile.loss), String(profile.capKbps ?? 0), String(profile.queueMs ?? 0)];
      child = spawnTied(process.execPath, [process.argv[1]!, 'relay', ...link], ['pipe', 'pipe', 'inherit']);
      relays.add(child);
      const spawned = child;
      return new Promise<number>((resolve, reject) => {
        spawned.child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        void spawned.exited.then(() => reject(new Error('the relay process exited')));
      });
    },
    outage(ms) {
      child?.child.stdin?.write(`outage ${Math.round(ms)}\n`);
    },
    setBottleneck(bottleneck) {
      child?.child.stdin?.write(bottleneck ? `bottleneck ${Math.round(bottleneck.capKbps)} ${Math.round(bottleneck.queueMs ?? 0)}\n` : 'bottleneck off\n');
    },
    close() {
      if (!child) return;
      child.child.stdin?.end();
      relays.delete(child);
      void child.stop(1000);
    },
  };
}
