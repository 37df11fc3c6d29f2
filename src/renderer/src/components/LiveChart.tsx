import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricKey } from '../../../shared/contract';
import type { LiveSeries } from '../metrics/live-series';

export interface ChartSeries {
  key: MetricKey;
  label: string;
  unit: string;
  colour: string;
  /** Multiply raw values (e.g. bytes → GiB). */
  scale?: number;
}

interface Props {
  title: string;
  address: string;
  live: LiveSeries;
  series: ChartSeries[];
  windowS: number;
  paused: boolean;
  yRange?: [number, number];
}

/** One uPlot chart, redrawn from LiveSeries on each batch: React renders it once, not per point. */
export function LiveChart({ title, address, live, series, windowS, paused, yRange }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const keys = series.map((s) => s.key);
    const scale = Object.fromEntries(series.filter((s) => s.scale).map((s) => [s.key, s.scale!]));
    const styles = getComputedStyle(document.documentElement);
    const axisColour = styles.getPropertyValue('--muted').trim() || '#888';
    const plot = new uPlot(
      {
        title,
        width: Math.max(280, element.clientWidth),
        height: 160,
        scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
        axes: [{ stroke: axisColour }, { stroke: axisColour, size: 50 }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.colour,
            width: 1.5,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${Number.isInteger(v) ? v : v.toFixed(1)} ${s.unit}`),
          })),
        ],
      },
      live.columns(address, keys, windowS, scale) as uPlot.AlignedData,
      element,
    );
    const redraw = () => {
      if (!pausedRef.current) plot.setData(live.columns(address, keys, windowS, scale) as uPlot.AlignedData);
    };
    const off = live.subscribe((changed) => {
      if (changed === address) redraw();
    });
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height: 160 }));
    resize.observe(element);
    return () => {
      off();
      resize.disconnect();
      plot.destroy();
    };
  }, [address, live, series, windowS, title, yRange]);

  return <div ref={host} className="chart" role="img" aria-label={`${title} chart for ${address}`} />;
}
