import { useEffect, useMemo, useState } from 'react';
import type { AppInfo, Gpu, Inventory } from '../../../shared/contract';
import { useApi } from '../api/context';
import { LiveChart, type ChartSeries } from '../components/LiveChart';
import { Empty, Section } from '../components/Section';
import { formatBytes, orDash } from '../format';
import { captureFact, nvidiaFact } from '../host-facts';
import type { ChartNotes } from '../metrics/chart-axes';
import { LiveSeries } from '../metrics/live-series';
import { useStore } from '../store';
import { selectInfo, selectInfoError } from '../store/selectors';
import { SOURCE_NAMES, useCaptureSources } from './sessions/use-capture-sources';

/** The capture sources that work here, the default first; the Sessions page says why the others do not. */
function CaptureSummary({ info }: { info: AppInfo }) {
  const { sources, error } = useCaptureSources();
  const fact = captureFact(info, error);
  if (fact) return <>{fact}</>;
  const xDisplay = info.capabilities.xDisplay;
  if (!sources) return <>{xDisplay ? `X display ${xDisplay}` : 'reading…'}</>;
  const working = sources.sources.filter((s) => s.available && s.kind !== 'test');
  if (working.length === 0) return <>no screen to capture ({sources.sessionType === 'none' ? 'no desktop session' : sources.sessionType}): see Sessions → Capture sources</>;
  return (
    <>
      {working.map((s) => `${SOURCE_NAMES[s.kind]}${s.kind === sources.defaultSource ? ' (default)' : ''}`).join(', ')}
      {sources.sessionType === 'wayland' ? ' on Wayland' : ''}
    </>
  );
}

const WINDOWS = [
  { label: '1 min', seconds: 60 },
  { label: '10 min', seconds: 600 },
  { label: '1 h', seconds: 3600 },
];

const GIB = 1 / 1024 ** 3;
const CHARTS: Array<{ title: string; series: ChartSeries[]; yRange?: [number, number] }> = [
  {
    title: 'Utilization',
    yRange: [0, 100],
    series: [
      { key: 'gpuUtilPercent', label: 'GPU', unit: '%', colour: '#1f6feb' },
      { key: 'memoryUtilPercent', label: 'Memory', unit: '%', colour: '#8250df' },
    ],
  },
  { title: 'Memory used', series: [{ key: 'memoryUsedBytes', label: 'Used', unit: 'GiB', colour: '#bf8700', scale: GIB }] },
  {
    title: 'Temperature and power',
    series: [
      { key: 'temperatureC', label: 'Temperature', unit: '°C', colour: '#cf222e' },
      { key: 'powerW', label: 'Power', unit: 'W', colour: '#1a7f37' },
    ],
  },
  {
    title: 'Encoder',
    series: [
      { key: 'encoderUtilPercent', label: 'Encoder', unit: '%', colour: '#0969da' },
      { key: 'decoderUtilPercent', label: 'Decoder', unit: '%', colour: '#6e7781' },
      { key: 'encoderSessions', label: 'Sessions', unit: '', colour: '#d4a72c' },
    ],
  },
];

/**
 * A card far off screen is neither laid out nor painted (its last size stands in for it): each frame in
 * which a chart redraws then records the charts near the viewport only, not every GPU's canvases.
 */
const OFF_SCREEN_SKIPPED = { contentVisibility: 'auto', containIntrinsicSize: 'auto 720px' } as const;

/** Memory used, from 0 to the GPU's memory (GiB) where known. */
const memoryRanges = new Map<number, [number, number]>();
function memoryRange(gpu: Gpu): [number, number] | undefined {
  if (!gpu.memoryTotalBytes) return undefined;
  const range = memoryRanges.get(gpu.memoryTotalBytes) ?? [0, Math.round(gpu.memoryTotalBytes * GIB * 10) / 10];
  memoryRanges.set(gpu.memoryTotalBytes, range);
  return range;
}

const LIVE_NOTES: ChartNotes = { none: 'No samples of this GPU in this window yet.' };
const RECORDED_NOTES: ChartNotes = { none: 'No samples of this GPU recorded in this snapshot.' };

function GpuLiveCard({ gpu, live, windowS, paused, notes }: { gpu: Gpu; live: LiveSeries; windowS: number; paused: boolean; notes: ChartNotes }) {
  return (
    <section className="card gpu-card" style={OFF_SCREEN_SKIPPED} aria-label={gpu.name ?? gpu.address}>
      <h2>{gpu.name ?? `${gpu.vendor} GPU`}</h2>
      <p className="hint">
        <code>{gpu.address}</code> · driver {orDash(gpu.driver)} · {formatBytes(gpu.memoryTotalBytes)}
        {gpu.nvidia?.encoderSessions !== null && gpu.nvidia?.encoderSessions !== undefined ? ` · ${gpu.nvidia.encoderSessions} encoder sessions` : ''}
      </p>
      <div className="charts">
        {CHARTS.map((chart) => (
          <LiveChart key={chart.title} title={chart.title} address={gpu.address} live={live} series={chart.series} windowS={windowS} paused={paused} yRange={chart.title === 'Memory used' ? memoryRange(gpu) : chart.yRange} notes={notes} />
        ))}
      </div>
    </section>
  );
}

export function DashboardPage() {
  const api = useApi();
  // Read again after every (re)connection: the host may have changed while we were away.
  const connected = useStore((s) => s.connection.state === 'open');
  const info = useStore(selectInfo);
  const infoError = useStore(selectInfoError);
  const live = useMemo(() => new LiveSeries(), []);
  const [inventory, setInventory] = useState<Inventory | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [windowS, setWindowS] = useState(60);
  const [paused, setPaused] = useState(false);

  useEffect(() => {
    if (!connected) return;
    api.call('inventory.get').then(setInventory, (failure: Error) => setError(failure.message));
    api.call('metrics.history', { seconds: 3600 }).then(
      (history) => live.load(history.series),
      () => undefined,
    );
    return api.on('metrics.batch', (batch) => live.append(batch.samples));
  }, [api, live, connected]);

  if (infoError) return <p role="alert">Could not read the host: {infoError}</p>;
  return (
    <>
      <div className="toolbar" role="toolbar" aria-label="Chart controls">
        <div role="group" aria-label="Time window">
          {WINDOWS.map((w) => (
            <button key={w.seconds} type="button" aria-pressed={windowS === w.seconds} onClick={() => setWindowS(w.seconds)}>
              {w.label}
            </button>
          ))}
        </div>
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      {error ? <p role="alert">Could not read the GPU inventory: {error}</p> : null}
      {inventory === null && !error ? <p aria-busy="true">Reading the GPUs…</p> : null}
      {inventory && inventory.gpus.length === 0 ? (
        <Section title="No GPU found">
          <Empty>
            Nothing to chart: no GPU on this host.
            {inventory.displayControllers.length === 0
              ? ' The PCI bus shows no display controller (class 0x03xx): this may be a VM or container without a GPU passed in.'
              : ` Display controllers seen: ${inventory.displayControllers.map((d) => `${d.address} (${d.driver ?? 'no driver'})`).join(', ')}.`}
          </Empty>
        </Section>
      ) : null}
      {inventory?.gpus.map((gpu) => <GpuLiveCard key={gpu.address} gpu={gpu} live={live} windowS={windowS} paused={paused} notes={info?.snapshot ? RECORDED_NOTES : LIVE_NOTES} />)}
      <Section title="This host">
        {info ? (
          <dl className="facts">
            <dt>Host</dt>
            <dd>{info.hostname}</dd>
            <dt>GPU Bridge</dt>
            <dd>
              {info.version} ({info.shell} shell, {info.platform}/{info.arch})
            </dd>
            <dt>NVIDIA</dt>
            <dd>{nvidiaFact(info)}</dd>
            <dt>Capture</dt>
            <dd>
              <CaptureSummary info={info} />
            </dd>
          </dl>
        ) : (
          <p aria-busy="true">Reading the host…</p>
        )}
      </Section>
    </>
  );
}
