import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { sendQueued, shrinkSendBuffer } from '../../../src/core/audio/stdin-queue';

/** A real child that never reads its stdin: what we write waits in the socket pair libuv gave it. */
function idleChild(): ChildProcess {
  return spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
}

/** Writes half frames (1920 bytes) until Node has to hold one itself; the bytes the kernel took before that. */
function fillKernel(child: ChildProcess): number {
  const stdin = child.stdin!;
  const half = Buffer.alloc(1920);
  let taken = 0;
  while (stdin.writableLength === 0 && taken < 4_000_000) {
    stdin.write(half);
    if (stdin.writableLength === 0) taken += half.length;
  }
  return taken;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('the queue in front of a child reading our stdin (real socket pair, real child)', () => {
  it('a default socket pair hides a quarter second of sound or more; a shrunk one holds a few half frames, and SIOCOUTQ sees them', () => {
    const plain = idleChild();
    const shrunk = idleChild();
    children.push(plain, shrunk);
    plain.stdin!.on('error', () => undefined);
    shrunk.stdin!.on('error', () => undefined);

    expect(shrinkSendBuffer(shrunk.stdin!, 2304)).toBe(true);
    expect(sendQueued(shrunk.stdin!)).toBe(0);

    const hiddenByDefault = fillKernel(plain);
    const hiddenShrunk = fillKernel(shrunk);
    // 48 kHz stereo s16le is 192 000 bytes a second
    expect(hiddenByDefault).toBeGreaterThan(48_000);
    expect(hiddenShrunk).toBeGreaterThan(0);
    expect(hiddenByDefault).toBeGreaterThan(10 * hiddenShrunk);
    expect(hiddenShrunk).toBeLessThanOrEqual(4 * 1920);

    const queued = sendQueued(shrunk.stdin!);
    // the kernel counts its bookkeeping with the bytes: an upper bound, never less than what it took
    expect(queued).toBeGreaterThanOrEqual(hiddenShrunk);
  });

  it('a stream with no descriptor is answered with null and false, not a throw', () => {
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() });
    expect(shrinkSendBuffer(stream, 2304)).toBe(false);
    expect(sendQueued(stream)).toBeNull();
  });
});
