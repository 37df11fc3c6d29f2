// Our own SRT caller and listener (libsrt through koffi) over loopback: the host's muxed output calls the
// peer's listener and sends messages; a pause longer than the listener's receive timeout (the encoder's
// start, while only the sound flows or nothing at all) must not end the connection.
import { describe, expect, it } from 'vitest';
import { freeUdpPort } from '../../../src/core/net/free-udp-port';
import { loadSrt, NativeSrtCaller, NativeSrtListener } from '../../../src/core/srt/srt-native';

const srt = loadSrt();
if (!srt) console.warn('SKIP srt-native: libsrt cannot be loaded (Debian: libsrt1.5-gnutls)');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!srt)('our SRT caller and listener (real libsrt, loopback)', () => {
  it('keeps the connection through a pause longer than the receive timeout, and delivers every message in order', async () => {
    const port = await freeUdpPort('127.0.0.1');
    const passphrase = 'a-passphrase-of-enough-length';
    const listener = new NativeSrtListener(srt!, { host: '127.0.0.1', port, passphrase, latencyMs: 40, listenTimeoutMs: 5000 });
    const received: Buffer[] = [];
    const ends: string[] = [];
    listener.on('data', (chunk: Buffer) => received.push(chunk));
    listener.on('end', (reason: string) => ends.push(reason));
    listener.start();
    const caller = new NativeSrtCaller(srt!, { host: '127.0.0.1', port, passphrase, latencyMs: 40, connectTimeoutMs: 3000 });
    const callerEnds: string[] = [];
    caller.on('end', (reason: string) => callerEnds.push(reason));
    try {
      await caller.connect();
      caller.send(Buffer.alloc(188, 1));
      // longer than the listener's 250 ms receive timeout, twice over
      await sleep(700);
      for (let i = 2; i <= 20; i += 1) {
        caller.send(Buffer.alloc(1316, i));
        await sleep(5);
      }
      await sleep(300);
      expect({ ends, callerEnds }).toEqual({ ends: [], callerEnds: [] });
      expect(received.map((chunk) => chunk[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      caller.close();
      listener.close();
    }
  });

  it('listens and calls over IPv6 too (the peer may listen on ::1 or ::), and an IPv6 listener on :: takes an IPv4 caller', async () => {
    const passphrase = 'a-passphrase-of-enough-length';
    for (const [listen, call] of [['::1', '::1'], ['::', '127.0.0.1']] as const) {
      const port = await freeUdpPort(listen);
      const listener = new NativeSrtListener(srt!, { host: listen, port, passphrase, latencyMs: 40, listenTimeoutMs: 5000 });
      const received: Buffer[] = [];
      listener.on('data', (chunk: Buffer) => received.push(chunk));
      listener.on('end', () => undefined);
      listener.start();
      const caller = new NativeSrtCaller(srt!, { host: call, port, passphrase, latencyMs: 40, connectTimeoutMs: 3000 });
      try {
        await caller.connect();
        for (let i = 1; i <= 5; i += 1) caller.send(Buffer.alloc(188, i));
        const deadline = Date.now() + 3000;
        while (received.length < 5 && Date.now() < deadline) await sleep(20);
        expect({ listen, call, got: received.map((chunk) => chunk[0]) }).toEqual({ listen, call, got: [1, 2, 3, 4, 5] });
      } finally {
        caller.close();
        listener.close();
      }
    }
  });

  it('tells the listener when the caller hangs up', async () => {
    const port = await freeUdpPort('127.0.0.1');
    const passphrase = 'a-passphrase-of-enough-length';
    const listener = new NativeSrtListener(srt!, { host: '127.0.0.1', port, passphrase, latencyMs: 40, listenTimeoutMs: 5000 });
    const ended = new Promise<string>((resolve) => listener.on('end', resolve));
    listener.start();
    const caller = new NativeSrtCaller(srt!, { host: '127.0.0.1', port, passphrase, latencyMs: 40, connectTimeoutMs: 3000 });
    try {
      await caller.connect();
      caller.send(Buffer.alloc(188, 1));
      await sleep(100);
      caller.close();
      expect(await ended).toMatch(/caller left|broken|closed/i);
    } finally {
      caller.close();
      listener.close();
    }
  });

  it('says why a call is refused (the handshake ran on a worker thread: the reason is the socket\'s, not that thread\'s last error)', async () => {
    const port = await freeUdpPort('127.0.0.1');
    const listener = new NativeSrtListener(srt!, { host: '127.0.0.1', port, passphrase: 'the-listeners-own-passphrase', latencyMs: 40, listenTimeoutMs: 5000 });
    listener.on('end', () => undefined);
    listener.start();
    const caller = new NativeSrtCaller(srt!, { host: '127.0.0.1', port, passphrase: 'another-passphrase-entirely', latencyMs: 40, connectTimeoutMs: 3000 });
    try {
      await expect(caller.connect()).rejects.toThrow(new RegExp(`^SRT connect to 127\\.0\\.0\\.1:${port}: (?!Success)\\S`));
    } finally {
      caller.close();
      listener.close();
    }
  });
});
