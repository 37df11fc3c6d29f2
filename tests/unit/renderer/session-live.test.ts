import { describe, expect, it } from 'vitest';
import type { SelftestResult, SessionInfo, SessionSecond } from '../../../src/shared/contract';
import type { ApiClient } from '../../../src/renderer/src/api/client';
import { ChartWindow } from '../../../src/renderer/src/metrics/chart-window';
import { LiveSeries } from '../../../src/renderer/src/metrics/live-series';
import { forgetUnlisted, sessionSample, viewerSeriesId, type SessionKey } from '../../../src/renderer/src/metrics/session-live';
import { runSelftest } from '../../../src/renderer/src/pages/sessions/run-selftest';
import { useStore } from '../../../src/renderer/src/store';
import { selectSelftest } from '../../../src/renderer/src/store/selectors';

const second = (s: number, over: Partial<SessionSecond> = {}): SessionSecond => ({
  sessionId: 's1', t: s * 1000, viewer: 'cloud-a', p50Ms: 20, p95Ms: 30, fpsSent: 30, fpsReceived: 30, bitrateKbps: 3900, targetKbps: 4000,
  rttMs: 2, dropped: 0, duplicated: 0, unreadable: 0,
  packetsLost: null, fecRecovered: null, nackRecovered: null, framesLost: null, keyframeRequests: null, cleanPictureMs: null, ...over,
});

describe('session charts: seconds into a LiveSeries', () => {
  it('one group per viewer; the target column carries the adaptive steps', () => {
    const live = new LiveSeries<SessionKey>();
    const address = viewerSeriesId('s1', 'cloud-a');
    const chart = new ChartWindow(live, address, ['bitrateKbps', 'targetKbps'], 60);
    live.append([second(1), second(2), second(3, { targetKbps: 3000, bitrateKbps: null }), second(4, { targetKbps: 3000 })].map(sessionSample));
    live.append([sessionSample(second(5, { viewer: 'cloud-b', targetKbps: 1 }))]); // another viewer: its own group
    live.append([sessionSample(second(6, { targetKbps: 4000 }))]);
    expect(chart.sync()).toBe(true);
    expect(chart.data[0]).toEqual([1, 2, 3, 4, 6]);
    expect(chart.data[2]).toEqual([4000, 4000, 3000, 3000, 4000]);
    expect(chart.data[1]).toEqual([3900, 3900, null, 3900, 3900]);
    expect(live.latest(viewerSeriesId('s1', 'cloud-b'), 'targetKbps')).toBe(1);
  });

  it('sessionSample keeps the charted figures and addresses the viewer', () => {
    expect(sessionSample(second(7, { rttMs: null, fecRecovered: 3, nackRecovered: 1, packetsLost: 4, framesLost: 0, keyframeRequests: 0, queueDelayMs: 2.5 }))).toEqual({
      t: 7000,
      address: 's1/cloud-a',
      values: {
        p50Ms: 20, p95Ms: 30, fpsSent: 30, fpsReceived: 30, bitrateKbps: 3900, targetKbps: 4000, rttMs: null,
        packetsLost: 4, fecRecovered: 3, nackRecovered: 1, framesLost: 0, keyframeRequests: 0, cleanPictureMs: null, queueDelayMs: 2.5,
        // a session without sound: its figures absent, not 0
        audioKbps: null, audioPacketsLost: null, audioPacketsRecovered: null, audioConcealedMs: null, audioLatencyMs: null, avOffsetMs: null,
      },
    });
  });

  it('sessionSample keeps the sound\'s figures of a session with sound', () => {
    const sound = { audioKbps: 97, audioPacketsLost: 2, audioPacketsRecovered: 2, audioConcealedMs: 0, audioLatencyMs: 38.5, avOffsetMs: -4 };
    expect(sessionSample(second(7, sound)).values).toMatchObject(sound);
  });
});

describe('session charts: history of ended sessions', () => {
  it('is dropped once the host no longer lists the session', () => {
    const live = new LiveSeries<SessionKey>();
    live.append([sessionSample(second(1)), sessionSample(second(1, { sessionId: 's2' })), sessionSample(second(1, { sessionId: 's2', viewer: 'cloud-b' }))]);
    const told: string[] = [];
    live.subscribe((address) => told.push(address));
    forgetUnlisted(live, [{ id: 's1' }] as SessionInfo[]);
    expect(live.addresses()).toEqual(['s1/cloud-a']);
    expect(told).toEqual(['s2/cloud-a', 's2/cloud-b']);
  });
});

describe('self-test runner: state in the store', () => {
  it('is running until the host answers, ignores a second click, then keeps the result', async () => {
    let answer!: (result: SelftestResult) => void;
    const calls: unknown[] = [];
    const api = { call: (method: string, params: unknown) => (calls.push([method, params]), new Promise((resolve) => (answer = resolve))) } as unknown as ApiClient;
    runSelftest(api, { width: 640, height: 360, fps: 30, seconds: 5 });
    runSelftest(api, { width: 1920, height: 1080, fps: 60, seconds: 5 });
    expect(calls).toEqual([['sessions.selftest', { width: 640, height: 360, fps: 30, seconds: 5 }]]);
    expect(selectSelftest(useStore.getState())).toMatchObject({ running: true, request: { width: 640 }, result: null, error: null });
    const result = { p50Ms: 12, framesDecoded: 140 } as SelftestResult;
    answer(result);
    await Promise.resolve();
    await Promise.resolve();
    expect(selectSelftest(useStore.getState())).toMatchObject({ running: false, result, error: null });
  });

  it('a failure is kept as what happened and what to do', async () => {
    const api = { call: () => Promise.reject(Object.assign(new Error('a self-test is already running'), { code: 'CONFLICT' })) } as unknown as ApiClient;
    runSelftest(api, { width: 640, height: 360, fps: 30, seconds: 5 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(selectSelftest(useStore.getState())).toMatchObject({ running: false, result: null, error: 'The self-test could not run: a self-test is already running. Wait for the running self-test to finish.' });
  });
});
