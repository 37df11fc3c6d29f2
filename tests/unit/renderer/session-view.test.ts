import { describe, expect, it } from 'vitest';
import type { PeerStatus } from '../../../src/shared/contract';
import { adviceFor, checkSize, describeFailure, firstFrameText, formatKbps, formatMs, parseBitrate, startBlocker, startablePeers } from '../../../src/renderer/src/pages/sessions/session-view';

const peer = (name: string, over: Partial<PeerStatus> = {}): PeerStatus => ({
  fingerprint: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a').slice(0, 64), name, addr: '10.0.0.2:7443', scopes: ['view'], pairedAt: '2026-01-01T00:00:00Z',
  lastSeen: null, revokedAt: null, online: true, rttMs: 3, clockOffsetMs: 0, ...over,
});

describe('Sessions page: who can receive, and why not', () => {
  it('offers only online, unrevoked peers with the view scope', () => {
    const peers = [peer('ok'), peer('off', { online: false }), peer('noview', { scopes: ['input'] }), peer('gone', { revokedAt: '2026-01-02T00:00:00Z' })];
    expect(startablePeers(peers).map((p) => p.name)).toEqual(['ok']);
  });

  it('says there is no paired peer, and where to pair one', () => {
    expect(startBlocker([], true)).toMatch(/No paired peer yet.*Peers page/);
    expect(startBlocker([peer('gone', { revokedAt: '2026-01-02T00:00:00Z' })], true)).toMatch(/No paired peer yet/);
  });

  it('names the peers that are offline or lack view, with what to do', () => {
    const text = startBlocker([peer('a', { online: false }), peer('b', { scopes: [] })], true)!;
    expect(text).toMatch(/offline: a .*peer run/);
    expect(text).toMatch(/without the view scope: b .*allow view/);
  });

  it('asks to turn sharing on; nothing blocks when a peer can receive and sharing is on', () => {
    expect(startBlocker([peer('ok')], false)).toMatch(/Sharing is off/);
    expect(startBlocker([peer('ok')], true)).toBeNull();
    expect(startBlocker(null, true)).toMatch(/Reading/);
  });
});

describe('Sessions page: fields and figures', () => {
  it('checks a custom size like the host does', () => {
    expect(checkSize(1600, 900)).toBeNull();
    expect(checkSize(1601, 900)).toMatch(/Width/);
    expect(checkSize(1280, 100)).toMatch(/Height/);
    expect(checkSize(Number.NaN, 720)).toMatch(/Width/);
  });

  it('reads an optional bitrate', () => {
    expect(parseBitrate('')).toEqual({ kbps: undefined });
    expect(parseBitrate(' 4000 ')).toEqual({ kbps: 4000 });
    expect(parseBitrate('12.5')).toHaveProperty('error');
    expect(parseBitrate('50')).toHaveProperty('error');
  });

  it('formats bitrates and milliseconds, with a dash for no figure', () => {
    expect(formatKbps(800)).toBe('800 kbit/s');
    expect(formatKbps(4500)).toBe('4.5 Mbit/s');
    expect(formatKbps(null)).toBe('—');
    expect(formatMs(12.345)).toBe('12.3 ms');
    expect(formatMs(1234)).toBe('1234 ms');
    expect(formatMs(null)).toBe('—');
  });

  it('errors say what happened and what to do', () => {
    const lost = Object.assign(new Error('the connection to the host was lost'), { code: 'UNAVAILABLE' });
    expect(describeFailure('The self-test could not run', lost)).toBe('The self-test could not run: the connection to the host was lost. Wait for the connection to come back (top right), then try again.');
    expect(adviceFor('REFUSED', 'sharing is off: turn it on')).toMatch(/Share GPU/);
    expect(adviceFor('UNAVAILABLE', 'this shell cannot start a local peer process for the self-test')).toMatch(/gpu-bridge session selftest/);
    expect(adviceFor('CONFLICT', 'a self-test is already running')).toMatch(/Wait/);
    expect(adviceFor('TIMEOUT', 'sessions.selftest did not answer within 30 s')).toMatch(/smaller size/);
    expect(adviceFor('INTERNAL', 'boom')).toMatch(/output of GPU Bridge/);
  });
});

describe('Sessions page: the first frame', () => {
  const base = { firstFrameMs: null, framesDecoded: 0, state: 'running' as const, last: null };
  const ms = (v: number) => `${v} ms`;
  it('the start-up time once measured', () => {
    expect(firstFrameText({ ...base, firstFrameMs: 168 }, ms)).toBe('168 ms after start');
  });
  it('never "not yet" on a session whose frames reach the viewer, stamp read or not', () => {
    expect(firstFrameText({ ...base, framesDecoded: 90 }, ms)).toMatch(/^frames arriving/);
    expect(firstFrameText({ ...base, last: { fpsReceived: 30 } as never }, ms)).toMatch(/^frames arriving/);
  });
  it('"not yet" only while nothing has arrived; an ended session none reached says so', () => {
    expect(firstFrameText({ ...base, state: 'starting' }, ms)).toBe('not yet');
    expect(firstFrameText({ ...base, state: 'stopped' }, ms)).toBe('none reached the viewer');
  });
});
