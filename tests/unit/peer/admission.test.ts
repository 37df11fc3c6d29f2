import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission, DEFAULT_LIMITS } from '../../../src/peer/admission';
import { RefusalLog, type RefusalSummary } from '../../../src/peer/refusal-log';

let port = 40_000;

/** Just what Admission reads of a socket, and whether it was destroyed. */
function fakeSocket(address: string): Socket & { destroyedByUs: boolean } {
  const socket = new EventEmitter() as EventEmitter & { remoteAddress: string; remotePort: number; destroyedByUs: boolean; destroy: () => void };
  socket.remoteAddress = address;
  socket.remotePort = (port += 1);
  socket.destroyedByUs = false;
  socket.destroy = () => {
    if (socket.destroyedByUs) return;
    socket.destroyedByUs = true;
    socket.emit('close');
  };
  return socket as unknown as Socket & { destroyedByUs: boolean };
}

afterEach(() => vi.useRealTimers());

describe('the peer\'s admission of connections not yet paired', () => {
  it('caps them per address and in all, and frees a slot when one closes', () => {
    const admission = new Admission({ ...DEFAULT_LIMITS, maxPending: 10, maxPendingPerSource: 3 });
    const from = (n: number) => Array.from({ length: n }, () => fakeSocket('203.0.113.7'));
    const first = from(5);
    const verdicts = first.map((socket) => admission.admit(socket));
    expect(verdicts.slice(0, 3)).toEqual([null, null, null]);
    expect(verdicts[3]).toMatch(/over 3 connections from one address/);
    expect(first[3]!.destroyedByUs).toBe(true);
    first[0]!.destroy();
    expect(admission.admit(fakeSocket('203.0.113.7'))).toBeNull();
    for (let i = 0; i < 7; i += 1) expect(admission.admit(fakeSocket(`198.51.100.${i}`))).toBeNull();
    expect(admission.pendingCount).toBe(10);
    expect(admission.admit(fakeSocket('198.51.100.200'))).toMatch(/over 10 connections not yet paired/);
    // IPv4-mapped IPv6 is the same address
    expect(admission.admit(fakeSocket('::ffff:203.0.113.7'))).toMatch(/from one address/);
  });

  it('closes a connection that is not in a paired session within the deadline', () => {
    vi.useFakeTimers();
    const admission = new Admission({ ...DEFAULT_LIMITS, pendingMs: 5000 });
    const idle = fakeSocket('203.0.113.9');
    const paired = fakeSocket('192.0.2.1');
    admission.admit(idle);
    admission.admit(paired);
    admission.settle(paired);
    vi.advanceTimersByTime(4999);
    expect(idle.destroyedByUs).toBe(false);
    vi.advanceTimersByTime(2);
    expect(idle.destroyedByUs).toBe(true);
    expect(paired.destroyedByUs).toBe(false);
    expect(admission.pendingCount).toBe(0);
  });

  it('lets a paired host\'s address in past the overall cap, so a flood from elsewhere does not lock it out', () => {
    const admission = new Admission({ ...DEFAULT_LIMITS, maxPending: 4, maxPendingPerSource: 2 });
    const host = fakeSocket('192.0.2.1');
    admission.admit(host);
    admission.settle(host);
    for (let i = 0; i < 4; i += 1) admission.admit(fakeSocket(`198.51.100.${i}`));
    expect(admission.admit(fakeSocket('198.51.100.99'))).toMatch(/not yet paired/);
    expect(admission.admit(fakeSocket('192.0.2.1'))).toBeNull();
    // but not past its own per-address cap
    admission.admit(fakeSocket('192.0.2.1'));
    expect(admission.admit(fakeSocket('192.0.2.1'))).toMatch(/from one address/);
  });

  it('stops pairing tries after too many failures in a minute, per address and in all', () => {
    const admission = new Admission({ ...DEFAULT_LIMITS, pairPerSourcePerMinute: 3, pairPerMinute: 5 });
    const t = 1_000_000;
    for (let i = 0; i < 3; i += 1) {
      expect(admission.allowPairing('203.0.113.7', t + i)).toBe(true);
      admission.pairingFailed('203.0.113.7', t + i);
    }
    expect(admission.allowPairing('203.0.113.7', t + 10)).toBe(false);
    expect(admission.allowPairing('198.51.100.1', t + 10)).toBe(true);
    admission.pairingFailed('198.51.100.1', t + 10);
    admission.pairingFailed('198.51.100.2', t + 11);
    expect(admission.allowPairing('198.51.100.3', t + 12)).toBe(false); // five failures in all
    expect(admission.allowPairing('203.0.113.7', t + 60_010)).toBe(true); // a minute later
  });
});

describe('refusals, aggregated', () => {
  it('writes the first of each kind at once and the repeats once per window, with a bounded number of lines', () => {
    vi.useFakeTimers();
    const lines: RefusalSummary[] = [];
    const log = new RefusalLog((summary) => lines.push(summary), 60_000, 4);
    for (let i = 0; i < 1000; i += 1) log.note(`198.51.100.${i % 50}`, 'no client certificate');
    for (let i = 0; i < 10; i += 1) log.note('203.0.113.7', 'TLS: ERR_SSL_NO_PROTOCOLS');
    // four sources of their own, then one shared line per reason (the reasons are our own few words)
    expect(lines.length).toBe(6);
    vi.advanceTimersByTime(60_000);
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines.reduce((sum, line) => sum + line.count, 0)).toBe(1010);
    expect(lines.some((line) => line.source === 'other sources' && line.kind === 'repeated')).toBe(true);
    log.close();
  });
});
