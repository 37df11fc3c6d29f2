import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricKey } from '../../../shared/contract';
import { chartNote, formatFigure, latestValue, unitAxes, type ChartNotes } from '../metrics/chart-axes';
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
  /** What the chart says when it has nothing to draw (default: no points in this window). */
  notes?: ChartNotes;
}

const DEFAULT_NOTES: ChartNotes = { none: 'No points in this window yet.' };

/** uPlot's own range, except for a flat line (all zero: a clean link, an idle encoder): 0 to 1, not 0 to 100. */
const flatRange = (_u: uPlot, min: number, max: number): uPlot.Range.MinMax =>
  min === max ? [Math.min(0, min), min <= 0 ? 1 : max * 1.5] : uPlot.rangeNum(min, max, 0.1, true);

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
 * x-axis splits at multiples of uPlot's chosen increment in local time: uPlot's own time splits build
 * Date objects for every candidate on every redraw. Windows here are at most an hour, so increments
 * are seconds or minutes and only the zone's offset matters (taken once per chart).
 */
function clockSplits() {
  const offsetS = -new Date().getTimezoneOffset() * 60;
  return (_u: uPlot, _axis: number, min: number, max: number, incr: number) => {
    const splits: number[] = [];
    if (!(incr > 0)) return splits;
    for (let s = Math.ceil((min + offsetS) / incr) * incr - offsetS; s <= max; s += incr) splits.push(s);
    return splits;
  };
}

/**
 * uPlot with its canvas context asked for as `willReadFrequently`: Chromium then keeps the chart's
 * canvas as a plain bitmap in this process instead of a GPU-process shared image, which for a small
 * chart redrawn a few times a minute saves a synchronous round trip to the GPU process per frame.
 * uPlot takes no context options, so getContext is wrapped for the constructor's duration only.
 */
function createPlot(opts: uPlot.Options, data: uPlot.AlignedData, target: HTMLElement): uPlot {
  const proto = HTMLCanvasElement.prototype;
  const getContext = proto.getContext;
  proto.getContext = function (this: HTMLCanvasElement, type: string, options?: unknown) {
    return type === '2d' ? getContext.call(this, '2d', { ...(options as object), willReadFrequently: true }) : getContext.call(this, type, options);
  } as typeof getContext;
  try {
    return new uPlot(opts, data, target);
  } finally {
    proto.getContext = getContext;
  }
}

/** The plot's width in CSS pixels. */
const plotColumns = (plot: uPlot) => Math.max(1, Math.round(plot.bbox.width / devicePixelRatio));
/**
 * Decimation buckets: one per two pixel columns, each drawn as its min and max, so about one point per
 * pixel column. Chromium rasterizes a 2D canvas's path when the frame is produced, and a zigzag of two
 * points per column costs it about twice as much as this, for no visible difference.
 */
const plotBuckets = (plot: uPlot) => Math.max(1, Math.floor(plotColumns(plot) / 2));

/**
 * One uPlot chart fed from LiveSeries outside React (React renders it once, not per point). Its columns
 * are rebuilt in the same arrays only when it redraws, decimated to about two points per pixel column
 * (ChartWindow), and it redraws only while on screen, at most once per pixel's worth of time, with the
 * other charts due in the same animation frame (RedrawPacer): with 8 GPUs × 4 charts a batch redraws
 * only the few charts on screen, and an hour's chart draws a few hundred points, not 3600.
 */
export function LiveChart<K extends string = MetricKey>({ title, address, live, series, windowS, paused, yRange, subject, paths, notes = DEFAULT_NOTES }: Props<K>) {
  const host = useRef<HTMLDivElement>(null);
  const note = useRef<HTMLParagraphElement>(null);
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
    // one y axis per unit, labelled with it (ms, fps, Mbit/s, %, GiB, °C, W); a second unit on the right
    const units = unitAxes(series);
    const plot = createPlot(
      {
        title,
        width: Math.max(280, element.clientWidth),
        height: 160,
        scales: {
          x: { time: true },
          ...Object.fromEntries(units.axes.map((a, i) => [a.scale, i === 0 && yRange ? { range: yRange } : { auto: true, range: flatRange }])),
        },
        // Fixed axis sizes (no measuring of labels to converge on) and no tick marks (the grid says it).
        axes: [
          { stroke: axisColour, values: clockLabels(windowS), splits: clockSplits(), size: 30, ticks: { show: false }, grid: { width: 1 } },
          ...units.axes.map((a) => ({
            scale: a.scale, label: a.label, labelSize: 16, labelFont: '12px system-ui, sans-serif', side: a.side === 'left' ? 3 : 1,
            stroke: axisColour, size: 44, ticks: { show: false }, grid: { width: 1, show: a.side === 'left' },
          })),
        ],
        series: [
          // the legend shows the newest figures until the pointer picks a time
          { label: 'Time', value: (_u: uPlot, v: number | null, _si: number, idx: number | null) => (idx === null || v === null ? 'latest' : clockLabels(windowS)(_u, [v])[0]!) },
          ...series.map((s, i) => ({
            label: s.label,
            scale: units.scaleOf[i],
            stroke: s.colour,
            // At one device pixel per CSS pixel, 1 px lines (and grid) are hairlines to Skia: a software
            // canvas rasterizes them at the frame's commit in about half the time of 1.5 px strokes
            // (bench/dashboard, BENCH_TRACE=1: Commit 1.9 → 0.9 ms per update at the 1 min window)
            width: 1,
            spanGaps: false,
            // No dots at the points (uPlot adds them when points are sparse: a 1 min window): the
            // cursor still marks the hovered point.
            points: { show: false },
            ...(paths?.[s.key] === 'stepped' ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}),
            value: (u: uPlot, v: number | null, si: number, idx: number | null) => formatFigure(idx === null ? latestValue(u.data[si]) : v, s.unit),
          })),
        ],
      },
      columns.data as uPlot.AlignedData,
      element,
    );
    columns.setBuckets(plotBuckets(plot));
    const showNote = () => {
      const text = chartNote(columns.data, notes);
      if (!note.current) return;
      note.current.hidden = text === null;
      note.current.textContent = text ?? '';
    };
    if (columns.sync()) plot.setData(columns.data as uPlot.AlignedData);
    showNote();
    // The time one pixel spans (1 h over ~250 px: ~14 s): a redraw sooner would not move the line.
    const msPerPixel = () => (windowS * 1000) / plotColumns(plot);
    const pacer = new RedrawPacer(() => {
      if (!columns.sync()) return;
      plot.setData(columns.data as uPlot.AlignedData);
      showNote();
    }, msPerPixel);
    pacer.setPaused(pausedRef.current);
    pacerRef.current = pacer;
    const off = live.subscribe((changed) => {
      if (changed === address) pacer.invalidate();
    });
    const resize = new ResizeObserver(() => {
      const width = Math.max(280, element.clientWidth);
      if (width === plot.width) return;
      plot.setSize({ width, height: 160 });
      columns.setBuckets(plotBuckets(plot));
      pacer.invalidate();
    });
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
  }, [address, live, series, windowS, title, yRange, paths, notes]);

  useEffect(() => pacerRef.current?.setPaused(paused), [paused]);

  return (
    <div className="chart-frame">
      {/* the axes' units, drawn on the canvas, also said here (for tests and assistive reading) */}
      <div ref={host} className="chart" role="img" aria-label={`${title} chart for ${subject ?? address}`} data-units={unitAxes(series).axes.map((a) => a.label).join(' ')} />
      <p ref={note} className="chart-note" hidden />
    </div>
  );
}
