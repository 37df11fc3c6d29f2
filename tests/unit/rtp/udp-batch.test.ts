import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ipv6Text, UdpBatchReceiver, UdpBatchSender } from '../../../src/core/rtp/udp-batch';

const sockets: Socket[] = [];

async function pair(): Promise<{ sender: Socket; received: Buffer[]; arrived: (count: number) => Promise<void> }> {
  const receiver = createSocket('udp4');
  const sender = createSocket('udp4');
  sockets.push(receiver, sender);
  const received: Buffer[] = [];
  let wanted = Infinity;
  let done: () => void = () => undefined;
  receiver.on('message', (data) => {
    received.push(data);
    if (received.length >= wanted) done();
  });
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', () => resolve()));
  receiver.setRecvBufferSize(4 << 20);
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve, reject) => sender.connect(receiver.address().port, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve())));
  const arrived = (count: number) =>
    new Promise<void>((resolve, reject) => {
      wanted = count;
      done = resolve;
      if (received.length >= count) resolve();
      setTimeout(() => reject(new Error(`only ${received.length} of ${count} datagrams arrived`)), 5000).unref();
    });
  return { sender, received, arrived };
}

/** Datagrams of every size from 1 to 1400 bytes, each telling its index. */
function datagrams(count: number): Buffer[] {
  return Array.from({ length: count }, (_, index) => {
    const packet = Buffer.alloc(1 + ((index * 97) % 1400), index & 0xff);
    if (packet.length >= 2) packet.writeUInt16BE(index, 0);
    return packet;
  });
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('UdpBatchSender: a turn of the event loop in one sendmmsg, over real UDP', () => {
  it('sends every datagram, byte for byte and in order, in far fewer system calls than datagrams', async () => {
    const { sender, received, arrived } = await pair();
    const batch = new UdpBatchSender(sender);
    const sent = datagrams(1500);
    // two turns: a first burst larger than one batch holds (1024), then a second after it
    for (const packet of sent.slice(0, 1200)) batch.send(packet);
    await new Promise((resolve) => setImmediate(resolve));
    for (const packet of sent.slice(1200)) batch.send(packet);
    batch.flush();
    await arrived(sent.length);
    expect(received).toEqual(sent);
    if (batch.why) {
      console.warn(`SKIP the batching check: datagrams went one by one here (${batch.why})`);
      expect(batch.counters.single).toBe(sent.length);
      return;
    }
    console.log(`UdpBatchSender: ${sent.length} datagrams in ${batch.counters.batches} sendmmsg calls, ${batch.counters.single} one by one`);
    expect(batch.counters.batched + batch.counters.single).toBe(sent.length);
    expect(batch.counters.batches).toBeLessThanOrEqual(10);
  });

  it('leaves at the end of the turn without a flush', async () => {
    const { sender, received, arrived } = await pair();
    const batch = new UdpBatchSender(sender);
    for (const packet of datagrams(5)) batch.send(packet);
    expect(received).toHaveLength(0);
    await arrived(5);
    expect(received).toEqual(datagrams(5));
  });

  it('with GPU_BRIDGE_UDP_BATCH=off sends one by one through the socket, and says why', async () => {
    vi.stubEnv('GPU_BRIDGE_UDP_BATCH', 'off');
    vi.resetModules();
    const { UdpBatchSender: Fresh } = await import('../../../src/core/rtp/udp-batch');
    const { sender, received, arrived } = await pair();
    const batch = new Fresh(sender);
    expect(batch.why).toBe('GPU_BRIDGE_UDP_BATCH=off');
    const sent = datagrams(50);
    for (const packet of sent) batch.send(packet);
    await arrived(sent.length);
    expect(received).toEqual(sent);
    expect(batch.counters).toEqual({ batches: 0, batched: 0, single: 50 });
  });

  it('a datagram queued and then changed by its owner goes out as it was when queued', async () => {
    const { sender, received, arrived } = await pair();
    const batch = new UdpBatchSender(sender);
    const packet = Buffer.from('before');
    batch.send(packet);
    packet.write('after!');
    await arrived(1);
    expect(received[0]!.toString()).toBe(batch.why ? 'after!' : 'before');
  });
});

/** A receiving socket behind a UdpBatchReceiver, and a sender connected to it. */
async function batchPair(family: 'udp4' | 'udp6' = 'udp4') {
  const host = family === 'udp4' ? '127.0.0.1' : '::1';
  const receiver = createSocket(family);
  const sender = createSocket(family);
  sockets.push(receiver, sender);
  const received: { data: Buffer; from: RemoteInfo }[] = [];
  const batch = new UdpBatchReceiver(receiver, (data, from) => received.push({ data, from }));
  await new Promise<void>((resolve) => receiver.bind(0, host, () => resolve()));
  receiver.setRecvBufferSize(4 << 20);
  await new Promise<void>((resolve) => sender.bind(0, host, () => resolve()));
  await new Promise<void>((resolve, reject) => sender.connect(receiver.address().port, host, (error?: Error) => (error ? reject(error) : resolve())));
  const arrived = async (count: number) => {
    for (let waited = 0; received.length < count && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    if (received.length < count) throw new Error(`only ${received.length} of ${count} datagrams arrived`);
  };
  return { receiver, sender, received, batch, arrived };
}

describe('UdpBatchReceiver: the first datagram of a burst from Node, the rest in recvmmsg, over real UDP', () => {
  it('hands on every datagram of a burst, byte for byte, in order, each in a buffer of its own, with the sender\'s address', async () => {
    const { sender, received, batch, arrived } = await batchPair();
    const sent = datagrams(600);
    // one burst: all queued before the receiving side runs
    const out = new UdpBatchSender(sender);
    for (const packet of sent) out.send(packet);
    out.flush();
    await arrived(sent.length);
    expect(received.map((r) => r.data)).toEqual(sent);
    for (const { from } of received) expect(from).toMatchObject({ address: '127.0.0.1', family: 'IPv4', port: sender.address().port });
    // buffers of their own: changing one changes no other
    received[1]!.data.fill(0);
    expect(received[2]!.data).toEqual(sent[2]);
    if (batch.why) {
      console.warn(`SKIP the batching check: datagrams came one by one through Node here (${batch.why})`);
      return;
    }
    console.log(`UdpBatchReceiver: ${sent.length} datagrams, ${batch.counters.fromNode} from Node, ${batch.counters.batched} in ${batch.counters.batches} recvmmsg calls`);
    expect(batch.counters.fromNode + batch.counters.batched).toBe(sent.length);
    expect(batch.counters.batched).toBeGreaterThan(sent.length / 2);
  });

  it('gives the IPv6 sender\'s address as Node writes it', async () => {
    let pair;
    try {
      pair = await batchPair('udp6');
    } catch (error) {
      console.warn(`SKIP the IPv6 check: no ::1 here (${String(error)})`);
      return;
    }
    const { sender, received, arrived } = pair;
    for (const packet of datagrams(40)) sender.send(packet);
    await arrived(40);
    for (const { from } of received) expect(from).toMatchObject({ address: '::1', family: 'IPv6', port: sender.address().port });
  });

  it('drops a datagram longer than its 9 KiB slots, and counts it', async () => {
    const { sender, received, batch, arrived } = await batchPair();
    if (batch.why) return console.warn(`SKIP: no batching here (${batch.why})`);
    const out = new UdpBatchSender(sender);
    const small = Buffer.from('first');
    out.send(small);
    out.send(Buffer.alloc(20_000, 1));
    out.send(Buffer.from('after'));
    out.flush();
    await arrived(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // the first comes through Node (which takes any length); behind it, the long one is dropped
    expect(received.map((r) => r.data.toString())).toEqual(['first', 'after']);
    expect(batch.counters.truncated).toBe(1);
  });

  it('stops reading when its callback closes the socket', async () => {
    const { receiver, sender } = await batchPair();
    let seen = 0;
    receiver.removeAllListeners('message');
    new UdpBatchReceiver(receiver, () => {
      seen += 1;
      if (seen === 3) receiver.close();
    });
    sockets.splice(sockets.indexOf(receiver), 1);
    const out = new UdpBatchSender(sender);
    for (const packet of datagrams(100)) out.send(packet);
    out.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toBe(3);
  });

  it('with GPU_BRIDGE_UDP_BATCH=off takes every datagram from Node, and says why', async () => {
    vi.stubEnv('GPU_BRIDGE_UDP_BATCH', 'off');
    vi.resetModules();
    const { UdpBatchReceiver: Fresh } = await import('../../../src/core/rtp/udp-batch');
    const receiver = createSocket('udp4');
    const sender = createSocket('udp4');
    sockets.push(receiver, sender);
    const received: Buffer[] = [];
    const batch = new Fresh(receiver, (data) => received.push(data));
    expect(batch.why).toBe('GPU_BRIDGE_UDP_BATCH=off');
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', () => resolve()));
    for (const packet of datagrams(30)) sender.send(packet, receiver.address().port, '127.0.0.1');
    for (let waited = 0; received.length < 30 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual(datagrams(30));
    expect(batch.counters).toMatchObject({ fromNode: 30, batched: 0 });
  });

  it('writes IPv6 addresses as RFC 5952 (and Node) does', () => {
    const bytes = (text: string) => {
      const out = new Uint8Array(16);
      const [head, tail] = text.includes('::') ? text.split('::') : [text, ''];
      const h = head ? head.split(':') : [];
      const t = tail ? tail.split(':') : [];
      const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
      groups.forEach((g, i) => {
        out[i * 2] = g >> 8;
        out[i * 2 + 1] = g & 0xff;
      });
      return out;
    };
    for (const text of ['::1', '::', 'fe80::1', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', '1::', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789', '2001:0:0:1::1']) {
      expect(ipv6Text(bytes(text))).toBe(text);
    }
    expect(ipv6Text(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2))).toBe('::ffff:192.168.1.2');
  });
});
