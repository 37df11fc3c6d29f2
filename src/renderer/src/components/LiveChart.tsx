import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricKey } from '../../../shared/contract';
import { ChartWindow } from '../metrics/chart-window';
import type { LiveSeries } from '../metrics/live-series';
import { RedrawPacer } from '../metrics/redraw-pacer';

export interface ChartSeries<K extends string = MetricKey> {
  key: K;
  label: string;
  unit: string;
  colour: string;
  /** Multiply raw values (e.g. bytes → GiB). */
  scale?: number;
}

interface Props<K extends string> {
  title: string;
  address: string;
  live: LiveSeries<K>;
  series: ChartSeries<K>[];
  windowS: number;
  paused: boolean;
  yRange?: [number, number];
  /** What the chart's accessible name says it is for (default: the address). */
  subject?: string;
  /** uPlot per-series options beyond colour and label (e.g. a stepped line for a target). */
  paths?: Partial<Record<K, 'stepped'>>;
}

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Local wall-clock tick labels (HH:MM, or HH:MM:SS for short windows): cheaper than uPlot's date templates on every redraw. */
function clockLabels(windowS: number) {
  return (_u: uPlot, splits: number[]) =>
    splits.map((s) => {
      const d = new Date(s * 1000);
      const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
      return windowS <= 120 ? `${hm}:${pad(d.getSeconds())}` : hm;
    });
}

/**
 * One uPlot chart fed from LiveSeries outside React (React renders it once, not per point). Its columns
 * are updated in place (ChartWindow) and it redraws only while on screen, at most once per pixel's worth
 * of time (RedrawPacer): with 8 GPUs × 4 charts most batches redraw only the few charts that need it.
 */
export function LiveChart<K extends string = MetricKey>({ title, address, live, series, windowS, paused, yRange, subject, paths }: Props<K>) {
  const host = useRef<HTMLDivElement>(null);
  const pacerRef = useRef<RedrawPacer | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const keys = series.map((s) => s.key);
    const scale = Object.fromEntries(series.filter((s) => s.scale).map((s) => [s.key, s.scale!])) as Partial<Record<K, number>>;
    const columns = new ChartWindow(live, address, keys, windowS, scale);
    const styles = getComputedStyle(document.documentElement);
    const axisColour = styles.getPropertyValue('--muted').trim() || '#888';
    const plot = new uPlot(
      {
        title,
        width: Math.max(280, element.clientWidth),
        height: 160,
        scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
        axes: [{ stroke: axisColour, values: clockLabels(windowS) }, { stroke: axisColour, size: 50 }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.colour,
            width: 1.5,
            spanGaps: false,
            ...(paths?.[s.key] === 'stepped' ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}),
            value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${Number.isInteger(v) ? v : v.toFixed(1)} ${s.unit}`),
          })),
        ],
      },
      (columns.sync(), columns.data) as uPlot.AlignedData,
      element,
    );
    // The time one pixel spans (1 h over ~250 px: ~14 s): a redraw sooner would not move the line.
    const msPerPixel = () => (windowS * 1000) / Math.max(1, plot.bbox.width / devicePixelRatio);
    const pacer = new RedrawPacer(() => {
      if (columns.sync()) plot.setData(columns.data as uPlot.AlignedData);
    }, msPerPixel);
    pacer.setPaused(pausedRef.current);
    pacerRef.current = pacer;
    const off = live.subscribe((changed) => {
      if (changed === address) pacer.invalidate();
    });
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height: 160 }));
    resize.observe(element);
    const onScreen = new IntersectionObserver((entries) => pacer.setVisible(entries.some((e) => e.isIntersecting)), { rootMargin: '100px' });
    onScreen.observe(element);
    return () => {
      off();
      pacer.dispose();
      pacerRef.current = null;
      resize.disconnect();
      onScreen.disconnect();
      plot.destroy();
    };
  }, [address, live, series, windowS, title, yRange, paths]);

  useEffect(() => pacerRef.current?.setPaused(paused), [paused]);

  return <div ref={host} className="chart" role="img" aria-label={`${title} chart for ${subject ?? address}`} />;
}
