import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpRelay, type LinkProfile } from '../../../src/core/net/udp-relay';

const HOST = '127.0.0.1';
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
  return socket;
}

/** Sends datagrams 0..count-1 through a relay with this profile, one at a time; the indices that came through. */
async function through(profile: LinkProfile, count: number): Promise<number[]> {
  const target = await bound();
  const arrived: number[] = [];
  target.on('message', (data) => arrived.push(data.readUInt32BE(0)));
  const relay = new UdpRelay({ host: HOST, port: target.address().port }, profile);
  relays.push(relay);
  const port = await relay.start();
  const caller = await bound();
  for (let i = 0; i < count; i += 1) {
    const datagram = Buffer.alloc(4);
    datagram.writeUInt32BE(i);
    await new Promise<void>((resolve) => caller.send(datagram, port, HOST, () => resolve()));
    const deadline = Date.now() + 2000;
    while (relay.forwarded + relay.dropped <= i && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const deadline = Date.now() + 2000;
  while (arrived.length < relay.forwarded && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(arrived.length + relay.dropped).toBe(count);
  return arrived.sort((a, b) => a - b);
}

describe('the user-space lossy link', () => {
  it('drops the same datagrams for the same seed, others for another, about the share asked for', async () => {
    const profile = { oneWayDelayMs: 0, loss: 0.1 };
    const first = await through({ ...profile, seed: 7 }, 300);
    const again = await through({ ...profile, seed: 7 }, 300);
    const other = await through({ ...profile, seed: 8 }, 300);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    for (const run of [first, other]) {
      expect(300 - run.length).toBeGreaterThan(10);
      expect(300 - run.length).toBeLessThan(60);
    }
  });
});
