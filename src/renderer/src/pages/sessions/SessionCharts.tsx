import { LiveChart, type ChartSeries } from '../../components/LiveChart';
import { sessionLive, viewerSeriesId, type SessionKey } from '../../metrics/session-live';

const WINDOW_S = 120;

const CHARTS: Array<{ title: string; series: ChartSeries<SessionKey>[]; paths?: Partial<Record<SessionKey, 'stepped'>> }> = [
  {
    title: 'Latency',
    series: [
      { key: 'p50Ms', label: 'p50', unit: 'ms', colour: '#1f6feb' },
      { key: 'p95Ms', label: 'p95', unit: 'ms', colour: '#cf222e' },
    ],
  },
  {
    title: 'Frame rate',
    series: [
      { key: 'fpsSent', label: 'Sent', unit: 'fps', colour: '#8250df' },
      { key: 'fpsReceived', label: 'Received', unit: 'fps', colour: '#1a7f37' },
    ],
  },
  {
    // the target is drawn as steps: each adaptive change is a visible step
    title: 'Bitrate',
    series: [
      { key: 'bitrateKbps', label: 'Actual', unit: 'kbit/s', colour: '#0969da' },
      { key: 'targetKbps', label: 'Target', unit: 'kbit/s', colour: '#bf8700' },
    ],
    paths: { targetKbps: 'stepped' },
  },
  { title: 'Round-trip time', series: [{ key: 'rttMs', label: 'RTT', unit: 'ms', colour: '#6e7781' }] },
];

/** The rtp transport's own figures, each second: what the link lost and what repaired it. */
const RTP_CHARTS: typeof CHARTS = [
  {
    title: 'Loss and repair',
    series: [
      { key: 'packetsLost', label: 'Packets lost', unit: '/s', colour: '#cf222e' },
      { key: 'fecRecovered', label: 'FEC-recovered', unit: '/s', colour: '#1a7f37' },
      { key: 'nackRecovered', label: 'NACK-recovered', unit: '/s', colour: '#0969da' },
    ],
  },
  {
    title: 'Unrepaired',
    series: [
      { key: 'framesLost', label: 'Frames lost', unit: '/s', colour: '#cf222e' },
      { key: 'keyframeRequests', label: 'Keyframe requests', unit: '/s', colour: '#bf8700' },
    ],
  },
  { title: 'Time to a clean picture', series: [{ key: 'cleanPictureMs', label: 'After a loss burst', unit: 'ms', colour: '#8250df' }] },
];

/** One viewer's live charts, drawn from sessionLive (fed by sessions.second outside React). */
export function ViewerCharts({ sessionId, viewer, transport }: { sessionId: string; viewer: string; transport: 'rtp' | 'srt' }) {
  const address = viewerSeriesId(sessionId, viewer);
  return (
    <div className="charts">
      {(transport === 'rtp' ? [...CHARTS, ...RTP_CHARTS] : CHARTS).map((chart) => (
        <LiveChart key={chart.title} title={chart.title} address={address} subject={viewer} live={sessionLive} series={chart.series} paths={chart.paths} windowS={WINDOW_S} paused={false} />
      ))}
    </div>
  );
}
