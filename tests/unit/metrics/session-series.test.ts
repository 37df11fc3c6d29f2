import { describe, expect, it } from 'vitest';
import type { SessionInfo, SessionSecond } from '../../../src/shared/contract/sessions';
import { MetricsExporter } from '../../../src/core/metrics/prometheus';
import { followSessions } from '../../../src/core/metrics/session-series';
import { EventHub } from '../../../src/core/rpc/event-hub';

const second = (over: Partial<SessionSecond> = {}): SessionSecond => ({
  sessionId: 'sess-1', t: 1_700_000_000_000, viewer: 'cloud-a', p50Ms: 21.5, p95Ms: 30, fpsSent: 60, fpsReceived: 59,
  bitrateKbps: 7800, targetKbps: 8000, rttMs: 4, dropped: 0, duplicated: 0, unreadable: 0,
  packetsLost: null, fecRecovered: null, nackRecovered: null, framesLost: null, keyframeRequests: null, cleanPictureMs: null, ...over,
});

const info = (id: string, state: SessionInfo['state']): SessionInfo => ({
  id, viewers: ['cloud-a'], state, reason: null, encoder: 'libx264', transport: 'rtp', encoderReason: 'no NVIDIA GPU', fallbackReason: null, source: 'test pattern', sourceKind: 'test',
  width: 1280, height: 720, fps: 60, requestedKbps: 8000, targetKbps: 8000, startedAt: new Date(0).toISOString(), firstFrameMs: 300,
  restarts: 0, framesSent: 0, framesDecoded: 0, unreadableFrames: 0, bitrateSteps: [], last: null,
});

/** The value of one sample line of the exposition text, or undefined when the series is absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('Prometheus session series', () => {
  it('a session with sound adds its bitrate, latency and A/V offset (gauges), its losses, recoveries and concealed time (counters); one without has none', async () => {
    const exporter = new MetricsExporter();
    const sound = { audioKbps: 98.5, audioLatencyMs: 38, avOffsetMs: -6, audioPacketsLost: 5, audioPacketsRecovered: 3, audioConcealedMs: 20 };
    exporter.sessions.update(second(sound));
    exporter.sessions.update(second({ ...sound, avOffsetMs: null }));
    exporter.sessions.update(second({ sessionId: 'sess-silent' }));
    const text = await exporter.render();
    const a = 'session="sess-1",viewer="cloud-a"';
    expect(sample(text, 'gpu_bridge_session_audio_bitrate_bits_per_second', a)).toBe(98_500);
    expect(sample(text, 'gpu_bridge_session_audio_latency_seconds', a)).toBeCloseTo(0.038);
    expect(sample(text, 'gpu_bridge_session_av_offset_seconds', a)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_audio_packets_lost_total', a)).toBe(10);
    expect(sample(text, 'gpu_bridge_session_audio_packets_recovered_total', a)).toBe(6);
    expect(sample(text, 'gpu_bridge_session_audio_concealed_seconds_total', a)).toBeCloseTo(0.04);
    const silent = 'session="sess-silent",viewer="cloud-a"';
    expect(sample(text, 'gpu_bridge_session_audio_bitrate_bits_per_second', silent)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_audio_packets_lost_total', silent)).toBeUndefined();
  });

  it('exports each viewer\'s second in base units, labelled by session and viewer', async () => {
    const exporter = new MetricsExporter();
    exporter.sessions.update(second());
    exporter.sessions.update(second({ viewer: 'cloud-b', p50Ms: 40, fpsReceived: 30 }));
    const text = await exporter.render();
    const a = 'session="sess-1",viewer="cloud-a"';
    expect(text).toContain('# TYPE gpu_bridge_session_latency_seconds gauge');
    expect(text).toContain('# TYPE gpu_bridge_session_frames_decoded_total counter');
    expect(sample(text, 'gpu_bridge_session_latency_seconds', `${a},quantile="0.5"`)).toBeCloseTo(0.0215);
    expect(sample(text, 'gpu_bridge_session_latency_seconds', `${a},quantile="0.95"`)).toBeCloseTo(0.03);
    expect(sample(text, 'gpu_bridge_session_fps_sent', a)).toBe(60);
    expect(sample(text, 'gpu_bridge_session_fps_received', a)).toBe(59);
    expect(sample(text, 'gpu_bridge_session_bitrate_bits_per_second', a)).toBe(7_800_000);
    expect(sample(text, 'gpu_bridge_session_target_bitrate_bits_per_second', a)).toBe(8_000_000);
    expect(sample(text, 'gpu_bridge_session_rtt_seconds', a)).toBeCloseTo(0.004);
    expect(sample(text, 'gpu_bridge_session_latency_seconds', 'session="sess-1",viewer="cloud-b",quantile="0.5"')).toBeCloseTo(0.04);
    expect(sample(text, 'gpu_bridge_session_frames_decoded_total', 'session="sess-1",viewer="cloud-b"')).toBe(30);
  });

  it('counts frames decoded across seconds, and removes figures a second did not have instead of exporting 0', async () => {
    const exporter = new MetricsExporter();
    exporter.sessions.update(second());
    exporter.sessions.update(second({ p50Ms: null, p95Ms: null, rttMs: null, bitrateKbps: null, fpsReceived: 0, targetKbps: 6000 }));
    const text = await exporter.render();
    const a = 'session="sess-1",viewer="cloud-a"';
    expect(sample(text, 'gpu_bridge_session_frames_decoded_total', a)).toBe(59);
    expect(sample(text, 'gpu_bridge_session_latency_seconds', `${a},quantile="0.5"`)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_rtt_seconds', a)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_bitrate_bits_per_second', a)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_target_bitrate_bits_per_second', a)).toBe(6_000_000); // the adaptive step down
  });

  it('rtp sessions add their losses and repairs as counters and the last time to a clean picture; srt sessions have none', async () => {
    const exporter = new MetricsExporter();
    const rtp = { packetsLost: 12, fecRecovered: 10, nackRecovered: 2, framesLost: 1, keyframeRequests: 1, cleanPictureMs: 95 };
    exporter.sessions.update(second(rtp));
    exporter.sessions.update(second({ ...rtp, cleanPictureMs: null }));
    exporter.sessions.update(second({ sessionId: 'sess-srt' }));
    const text = await exporter.render();
    const a = 'session="sess-1",viewer="cloud-a"';
    expect(sample(text, 'gpu_bridge_session_packets_lost_total', a)).toBe(24);
    expect(sample(text, 'gpu_bridge_session_fec_recovered_packets_total', a)).toBe(20);
    expect(sample(text, 'gpu_bridge_session_nack_recovered_packets_total', a)).toBe(4);
    expect(sample(text, 'gpu_bridge_session_frames_lost_total', a)).toBe(2);
    expect(sample(text, 'gpu_bridge_session_keyframe_requests_total', a)).toBe(2);
    expect(sample(text, 'gpu_bridge_session_clean_picture_seconds', a)).toBeCloseTo(0.095);
    const srt = 'session="sess-srt",viewer="cloud-a"';
    expect(sample(text, 'gpu_bridge_session_fec_recovered_packets_total', srt)).toBeUndefined();
    expect(sample(text, 'gpu_bridge_session_clean_picture_seconds', srt)).toBeUndefined();
  });

  it('follows the session manager\'s events: seconds feed it, an ended session\'s series go away', async () => {
    const events = new EventHub();
    const exporter = new MetricsExporter();
    const off = followSessions(events, exporter.sessions);
    events.emit('sessions.second', second({ sessionId: 'sess-1' }));
    events.emit('sessions.second', second({ sessionId: 'sess-2', viewer: 'cloud-b' }));
    events.emit('sessions.changed', [info('sess-1', 'failed'), info('sess-2', 'running')]);
    const text = await exporter.render();
    expect(text).not.toContain('session="sess-1"');
    expect(sample(text, 'gpu_bridge_session_fps_received', 'session="sess-2",viewer="cloud-b"')).toBe(59);
    events.emit('sessions.changed', []);
    expect(await exporter.render()).not.toContain('session="sess-2"');
    off();
    events.emit('sessions.second', second({ sessionId: 'sess-3' }));
    expect(await exporter.render()).not.toContain('session="sess-3"');
    // the GPU series are still there next to them
    exporter.update([{ address: '0000:01:00.0', name: 'RTX', values: { temperatureC: 50 } }]);
    expect(await exporter.render()).toContain('gpu_bridge_gpu_temperature_celsius{address="0000:01:00.0",name="RTX"} 50');
  });
});
