import { LiveChart, type ChartSeries } from '../../components/LiveChart';
import type { ChartNotes } from '../../metrics/chart-axes';
import { sessionLive, viewerSeriesId, type SessionKey } from '../../metrics/session-live';
import { capabilities, type TransportName } from '../../../../shared/transports';

const WINDOW_S = 120;

const CHARTS: Array<{ title: string; series: ChartSeries<SessionKey>[]; paths?: Partial<Record<SessionKey, 'stepped'>>; notes?: ChartNotes }> = [
  {
    title: 'Latency',
    notes: { none: 'No frame with a readable stamp decoded yet: no latency to show.' },
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
      { key: 'bitrateKbps', label: 'Actual', unit: 'Mbit/s', colour: '#0969da', scale: 1 / 1000 },
      { key: 'targetKbps', label: 'Target', unit: 'Mbit/s', colour: '#bf8700', scale: 1 / 1000 },
    ],
    paths: { targetKbps: 'stepped' },
  },
  {
    title: 'Round-trip time',
    series: [{ key: 'rttMs', label: 'RTT', unit: 'ms', colour: '#6e7781' }],
    notes: { none: 'No round trip measured to this viewer yet (neither its receiver reports nor the control channel have given one).' },
  },
];

/** Charts of the link figures: shown for a transport that reports them all (TRANSPORTS' figures). */
const LINK_CHARTS: typeof CHARTS = [
  {
    title: 'Loss and repair',
    series: [
      { key: 'packetsLost', label: 'Packets lost', unit: '/s', colour: '#cf222e' },
      { key: 'fecRecovered', label: 'FEC-recovered', unit: '/s', colour: '#1a7f37' },
      { key: 'nackRecovered', label: 'NACK-recovered', unit: '/s', colour: '#0969da' },
    ],
    notes: { none: 'No loss figures from this viewer yet.', zero: 'No packet lost in this window: a clean link, nothing to repair.' },
  },
  {
    title: 'Unrepaired',
    series: [
      { key: 'framesLost', label: 'Frames lost', unit: '/s', colour: '#cf222e' },
      { key: 'keyframeRequests', label: 'Keyframe requests', unit: '/s', colour: '#bf8700' },
    ],
    notes: { none: 'No loss figures from this viewer yet.', zero: 'Every frame arrived whole or was repaired in time: no frame lost, no keyframe asked for.' },
  },
  {
    title: 'Time to a clean picture',
    series: [{ key: 'cleanPictureMs', label: 'After a loss burst', unit: 'ms', colour: '#8250df' }],
    notes: { none: 'No loss burst in this window: no picture to recover.' },
  },
];

/** The session's sound, each second: its bitrate, what was lost and how it was made good, and its timing. */
const AUDIO_CHARTS: typeof CHARTS = [
  {
    title: 'Sound: bitrate',
    series: [{ key: 'audioKbps', label: 'Opus', unit: 'kbit/s', colour: '#0969da' }],
    notes: { none: 'No sound figures from this viewer yet.' },
  },
  {
    title: 'Sound: loss and repair',
    series: [
      { key: 'audioPacketsLost', label: 'Packets lost', unit: '/s', colour: '#cf222e' },
      { key: 'audioPacketsRecovered', label: 'Recovered (FEC, resend)', unit: '/s', colour: '#1a7f37' },
      { key: 'audioConcealedMs', label: 'Concealed', unit: 'ms/s', colour: '#bf8700' },
    ],
    notes: { none: 'No sound figures from this viewer yet.', zero: 'No sound packet lost in this window: nothing rebuilt, nothing concealed.' },
  },
  {
    title: 'Sound: timing',
    series: [
      { key: 'audioLatencyMs', label: 'Captured → heard', unit: 'ms', colour: '#8250df' },
      { key: 'avOffsetMs', label: 'A/V offset (+ sound late)', unit: 'ms', colour: '#cf222e' },
    ],
    notes: { none: 'No timing yet (the A/V offset needs stamped frames, which the test pattern has).' },
  },
];

/**
 * Beside the bitrate's steps (a transport whose receiver measures it): how much later than the link's
 * fastest the frames came, the figure the capacity-following bitrate steps down on.
 */
const QUEUE_CHART: (typeof CHARTS)[number] = {
  title: 'Queueing delay',
  series: [{ key: 'queueDelayMs', label: 'Above the link\'s floor (median)', unit: 'ms', colour: '#bc4c00' }],
  notes: { none: 'No queueing delay from this viewer yet (its receiver reports one each second).', zero: 'No queue on the path in this window: frames came as fast as the link allows.' },
};

/** One viewer's live charts, drawn from sessionLive (fed by sessions.second outside React). */
export function ViewerCharts({ sessionId, viewer, transport, audio = false }: { sessionId: string; viewer: string; transport: TransportName; audio?: boolean }) {
  const address = viewerSeriesId(sessionId, viewer);
  const figures = capabilities(transport).figures as readonly string[];
  const shows = (chart: (typeof CHARTS)[number]) => chart.series.every((s) => figures.includes(s.key));
  const bitrateAt = CHARTS.findIndex((chart) => chart.title === 'Bitrate') + 1;
  const main = shows(QUEUE_CHART) ? [...CHARTS.slice(0, bitrateAt), QUEUE_CHART, ...CHARTS.slice(bitrateAt)] : CHARTS;
  const charts = [...main, ...LINK_CHARTS.filter(shows), ...(audio ? AUDIO_CHARTS : [])];
  return (
    <div className="charts">
      {charts.map((chart) => (
        <LiveChart key={chart.title} title={chart.title} address={address} subject={viewer} live={sessionLive} series={chart.series} paths={chart.paths} notes={chart.notes} windowS={WINDOW_S} paused={false} />
      ))}
    </div>
  );
}
