import { Counter, Gauge, type Registry } from 'prom-client';
import type { SessionInfo, SessionSecond } from '../../shared/contract/sessions';
import type { EventHub } from '../rpc/event-hub';

type Labels = 'session' | 'viewer';

/**
 * The streaming sessions' Prometheus series, fed one second of one viewer at a time (`sessions.second`),
 * in base units like the GPU series: latency and RTT in seconds, bitrates in bits per second. A figure
 * the second did not have (no frame decoded, no RTT yet) is removed, not exported as 0; `retain` drops
 * the series of sessions that ended.
 */
export class SessionSeries {
  private readonly latency: Gauge<Labels | 'quantile'>;
  private readonly fpsSent: Gauge<Labels>;
  private readonly fpsReceived: Gauge<Labels>;
  private readonly bitrate: Gauge<Labels>;
  private readonly target: Gauge<Labels>;
  private readonly rtt: Gauge<Labels>;
  private readonly decoded: Counter<Labels>;
  /** rtp only: the transport's losses and repairs (counters), and the last time to a clean picture. */
  private readonly packetsLost: Counter<Labels>;
  private readonly fecRecovered: Counter<Labels>;
  private readonly nackRecovered: Counter<Labels>;
  private readonly framesLost: Counter<Labels>;
  private readonly keyframeRequests: Counter<Labels>;
  private readonly cleanPicture: Gauge<Labels>;
  /** The session's sound (src/core/audio), when it carries any. */
  private readonly audioBitrate: Gauge<Labels>;
  private readonly audioLatency: Gauge<Labels>;
  private readonly avOffset: Gauge<Labels>;
  private readonly audioPacketsLost: Counter<Labels>;
  private readonly audioPacketsRecovered: Counter<Labels>;
  private readonly audioConcealed: Counter<Labels>;
  /** session id → viewers seen, to remove their series when the session ends. */
  private readonly seen = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['session', 'viewer'] as const;
    this.latency = new Gauge({ name: 'gpu_bridge_session_latency_seconds', help: 'Capture-to-decode latency over the last second, by quantile (0.5, 0.95)', labelNames: [...labelNames, 'quantile'], registers });
    this.fpsSent = new Gauge({ name: 'gpu_bridge_session_fps_sent', help: 'Frames per second the encoder sent', labelNames, registers });
    this.fpsReceived = new Gauge({ name: 'gpu_bridge_session_fps_received', help: 'Frames per second the viewer decoded', labelNames, registers });
    this.bitrate = new Gauge({ name: 'gpu_bridge_session_bitrate_bits_per_second', help: 'Encoder output bitrate', labelNames, registers });
    this.target = new Gauge({ name: 'gpu_bridge_session_target_bitrate_bits_per_second', help: 'Adaptive bitrate target', labelNames, registers });
    this.rtt = new Gauge({ name: 'gpu_bridge_session_rtt_seconds', help: 'Round-trip time to the viewer (control channel)', labelNames, registers });
    this.decoded = new Counter({ name: 'gpu_bridge_session_frames_decoded_total', help: 'Frames the viewer decoded', labelNames, registers });
    this.packetsLost = new Counter({ name: 'gpu_bridge_session_packets_lost_total', help: 'rtp: media packets lost on the way, before any repair', labelNames, registers });
    this.fecRecovered = new Counter({ name: 'gpu_bridge_session_fec_recovered_packets_total', help: 'rtp: lost packets rebuilt from the frame\'s FEC', labelNames, registers });
    this.nackRecovered = new Counter({ name: 'gpu_bridge_session_nack_recovered_packets_total', help: 'rtp: lost packets the sender sent again on a NACK', labelNames, registers });
    this.framesLost = new Counter({ name: 'gpu_bridge_session_frames_lost_total', help: 'rtp: frames not repaired in time (never shown)', labelNames, registers });
    this.keyframeRequests = new Counter({ name: 'gpu_bridge_session_keyframe_requests_total', help: 'rtp: keyframe requests (PLI) from the viewer', labelNames, registers });
    this.cleanPicture = new Gauge({ name: 'gpu_bridge_session_clean_picture_seconds', help: 'rtp: time from the end of the last loss burst to the next clean picture', labelNames, registers });
    this.audioBitrate = new Gauge({ name: 'gpu_bridge_session_audio_bitrate_bits_per_second', help: 'Sound: Opus stream bitrate as it arrived at the viewer', labelNames, registers });
    this.audioLatency = new Gauge({ name: 'gpu_bridge_session_audio_latency_seconds', help: 'Sound: captured on the host to heard at the viewer (median of the last second)', labelNames, registers });
    this.avOffset = new Gauge({ name: 'gpu_bridge_session_av_offset_seconds', help: 'Sound delay minus picture delay at the viewer (positive: sound late)', labelNames, registers });
    this.audioPacketsLost = new Counter({ name: 'gpu_bridge_session_audio_packets_lost_total', help: 'Sound: Opus packets missing at their turn to play, before repair', labelNames, registers });
    this.audioPacketsRecovered = new Counter({ name: 'gpu_bridge_session_audio_packets_recovered_total', help: 'Sound: lost packets rebuilt from in-band FEC or resent in time', labelNames, registers });
    this.audioConcealed = new Counter({ name: 'gpu_bridge_session_audio_concealed_seconds_total', help: 'Sound the decoder made up for what was lost (packet loss concealment)', labelNames, registers });
  }

  update(second: SessionSecond): void {
    const labels = { session: second.sessionId, viewer: second.viewer };
    let viewers = this.seen.get(second.sessionId);
    if (!viewers) this.seen.set(second.sessionId, (viewers = new Set()));
    viewers.add(second.viewer);
    setOrRemove(this.latency, { ...labels, quantile: '0.5' }, second.p50Ms, 1e-3);
    setOrRemove(this.latency, { ...labels, quantile: '0.95' }, second.p95Ms, 1e-3);
    this.fpsSent.set(labels, second.fpsSent);
    this.fpsReceived.set(labels, second.fpsReceived);
    setOrRemove(this.bitrate, labels, second.bitrateKbps, 1000);
    this.target.set(labels, second.targetKbps * 1000);
    setOrRemove(this.rtt, labels, second.rttMs, 1e-3);
    this.decoded.inc(labels, Math.max(0, second.fpsReceived));
    const repairs: Array<[Counter<Labels>, number | null]> = [
      [this.packetsLost, second.packetsLost], [this.fecRecovered, second.fecRecovered], [this.nackRecovered, second.nackRecovered],
      [this.framesLost, second.framesLost], [this.keyframeRequests, second.keyframeRequests],
    ];
    for (const [counter, value] of repairs) if (value !== null) counter.inc(labels, Math.max(0, value));
    if (second.cleanPictureMs !== null) this.cleanPicture.set(labels, second.cleanPictureMs / 1000);
    setOrRemove(this.audioBitrate, labels, second.audioKbps ?? null, 1000);
    setOrRemove(this.audioLatency, labels, second.audioLatencyMs ?? null, 1e-3);
    setOrRemove(this.avOffset, labels, second.avOffsetMs ?? null, 1e-3);
    if (second.audioPacketsLost != null) this.audioPacketsLost.inc(labels, Math.max(0, second.audioPacketsLost));
    if (second.audioPacketsRecovered != null) this.audioPacketsRecovered.inc(labels, Math.max(0, second.audioPacketsRecovered));
    if (second.audioConcealedMs != null) this.audioConcealed.inc(labels, Math.max(0, second.audioConcealedMs) / 1000);
  }

  /** Keeps the series of these sessions only (the live ones); the rest are removed. */
  retain(liveSessionIds: Iterable<string>): void {
    const live = new Set(liveSessionIds);
    for (const [session, viewers] of this.seen) {
      if (live.has(session)) continue;
      for (const viewer of viewers) {
        const labels = { session, viewer };
        for (const gauge of [this.fpsSent, this.fpsReceived, this.bitrate, this.target, this.rtt, this.audioBitrate, this.audioLatency, this.avOffset]) gauge.remove(labels);
        for (const quantile of ['0.5', '0.95']) this.latency.remove({ ...labels, quantile });
        for (const counter of [this.decoded, this.packetsLost, this.fecRecovered, this.nackRecovered, this.framesLost, this.keyframeRequests, this.audioPacketsLost, this.audioPacketsRecovered, this.audioConcealed]) counter.remove(labels);
        this.cleanPicture.remove(labels);
      }
      this.seen.delete(session);
    }
  }
}

function setOrRemove<L extends string>(gauge: Gauge<L>, labels: Partial<Record<L, string>>, value: number | null, scale: number): void {
  if (value === null || !Number.isFinite(value)) gauge.remove(labels);
  else gauge.set(labels, value * scale);
}

const LIVE = new Set<SessionInfo['state']>(['starting', 'running', 'restarting']);

/** Feeds the series from the session manager's events (`sessions.second`, `sessions.changed`); returns an unsubscribe. */
export function followSessions(events: Pick<EventHub, 'subscribe'>, series: SessionSeries): () => void {
  return events.subscribe((message) => {
    if (message.event === 'sessions.second') series.update(message.payload as SessionSecond);
    else if (message.event === 'sessions.changed') series.retain((message.payload as SessionInfo[]).filter((s) => LIVE.has(s.state)).map((s) => s.id));
  });
}
