import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpRelay } from '../../../src/core/net/udp-relay';

// The relay's bottleneck on real UDP: judged by counts of datagrams, never by when they came.
const HOST = '127.0.0.1';
const SIZE = 1000;
const sockets: Socket[] = [];
const relays: UdpRelay[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const relay of relays.splice(0)) relay.close();
});

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
  socket.setRecvBufferSize(8 << 20);
  socket.setSendBufferSize(8 << 20);
  return socket;
}

async function link(capKbps: number, queueMs: number | null): Promise<{ relay: UdpRelay; port: number; caller: Socket; arrived: () => number }> {
  const target = await bound();
  let arrived = 0;
  target.on('message', () => (arrived += 1));
  const relay = new UdpRelay({ host: HOST, port: target.address().port }, { oneWayDelayMs: 0, loss: 0, capKbps, queueMs });
  relays.push(relay);
  const port = await relay.start();
  return { relay, port, caller: await bound(), arrived: () => arrived };
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('the user-space link\'s bottleneck', () => {
  it('holds a burst up to its queue and drops the rest at the tail', async () => {
    // 8000 kbit/s is 1000 bytes a ms: a 50 ms queue holds about 50 datagrams of 1000 bytes
    const { relay, port, caller, arrived } = await link(8000, 50);
    const count = 400;
    for (let i = 0; i < count; i += 1) caller.send(Buffer.alloc(SIZE, i & 0xff), port, HOST);
    await until(() => relay.forwarded + relay.dropped >= count, 5000);
    await until(() => arrived() >= relay.forwarded, 5000);
    expect(relay.forwarded + relay.dropped).toBe(count);
    expect(relay.queueDropped).toBe(relay.dropped);
    // the queue's 50 plus what drained while the burst was still arriving (a burst of 400 takes a few ms here)
    expect(relay.forwarded).toBeGreaterThanOrEqual(50);
    expect(relay.forwarded).toBeLessThan(200);
    expect(arrived()).toBe(relay.forwarded);
  });

  it('with no queue limit, drops nothing: every datagram waits its turn', async () => {
    const { relay, port, caller, arrived } = await link(80_000, null);
    for (let i = 0; i < 300; i += 1) caller.send(Buffer.alloc(SIZE), port, HOST);
    await until(() => arrived() >= 300, 5000);
    expect(relay.dropped).toBe(0);
    expect(arrived()).toBe(300);
  });

  it('carries its rate over a long window, twice as much offered: about half delivered', async () => {
    // 4000 kbit/s = 500 datagrams of 1000 bytes a second; offered at 1000 a second for 2 s
    const { relay, port, caller, arrived } = await link(4000, 40);
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < 2000) {
      const due = Math.floor(performance.now() - started);
      while (sent < due) {
        caller.send(Buffer.alloc(SIZE), port, HOST);
        sent += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const spanMs = performance.now() - started;
    await until(() => relay.forwarded + relay.dropped >= sent, 5000);
    await until(() => arrived() >= relay.forwarded, 5000);
    // at most what the rate carries over the span plus a full queue; no less than 80% of it (the link stayed busy)
    const carried = (4000 / 8 / SIZE) * (spanMs + 40);
    expect(relay.forwarded).toBeLessThanOrEqual(Math.ceil(carried) + 1);
    expect(relay.forwarded).toBeGreaterThan(0.8 * carried);
    expect(relay.dropped).toBeGreaterThan(0.3 * sent);
    expect(arrived()).toBe(relay.forwarded);
  });

  it('lifts the bottleneck mid-run: what comes after passes at once', async () => {
    const { relay, port, caller, arrived } = await link(800, 10);
    for (let i = 0; i < 100; i += 1) caller.send(Buffer.alloc(SIZE), port, HOST);
    await until(() => relay.forwarded + relay.dropped >= 100, 5000);
    expect(relay.queueDropped).toBeGreaterThan(80);
    relay.setBottleneck(null);
    const before = relay.forwarded;
    for (let i = 0; i < 100; i += 1) caller.send(Buffer.alloc(SIZE), port, HOST);
    await until(() => relay.forwarded + relay.dropped >= 200, 5000);
    expect(relay.forwarded - before).toBe(100);
    await until(() => arrived() >= relay.forwarded, 5000);
    expect(arrived()).toBe(relay.forwarded);
  });
});
