/** A chart's units, legend figures and empty-chart note: pure, no uPlot, no DOM. */

export interface UnitSeries {
  key: string;
  label: string;
  unit: string;
}

/** One y axis: its uPlot scale, the unit it is labelled with, and its side. */
export interface UnitAxis {
  scale: string;
  label: string;
  side: 'left' | 'right';
}

/** What a count without a unit is called on its axis: its series' label ("Sessions" → "sessions"). */
const unitName = (s: UnitSeries) => (s.unit === '/s' ? 'per second' : s.unit) || s.label.toLowerCase();

/**
 * One y scale per unit, in the order the series name them: the first on the left, the second on the
 * right (°C and W, % and sessions), each axis labelled with its unit; more units share the right one.
 */
export function unitAxes(series: readonly UnitSeries[]): { scaleOf: string[]; axes: UnitAxis[] } {
  const axes: UnitAxis[] = [];
  const scaleOf = series.map((s) => {
    const label = unitName(s);
    const found = axes.find((a) => a.label === label);
    if (found) return found.scale;
    if (axes.length === 2) return axes[1]!.scale;
    const axis: UnitAxis = { scale: axes.length === 0 ? 'y' : `y-${label}`, label, side: axes.length === 0 ? 'left' : 'right' };
    axes.push(axis);
    return axis.scale;
  });
  return { scaleOf, axes };
}

/** A legend figure: the value with its unit ("12.5 ms", "3 /s", "2"), or a dash. */
export function formatFigure(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const number = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return unit ? `${number} ${unit}` : number;
}

/** The newest value of a column (what the legend shows while the pointer is not over the chart). */
export function latestValue(column: ArrayLike<number | null | undefined> | undefined): number | null {
  if (!column) return null;
  for (let i = column.length - 1; i >= 0; i -= 1) {
    const v = column[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

/** What a chart says when it has nothing to draw, instead of an empty frame. */
export interface ChartNotes {
  /** No value at all in the window (nothing measured, or nothing recorded). */
  none: string;
  /** Every value zero (a clean link: nothing lost, nothing to repair). */
  zero?: string;
}

/** The note to show over the chart for its columns (time first), or null when it has something to draw. */
export function chartNote(data: ReadonlyArray<ArrayLike<number | null | undefined>>, notes: ChartNotes): string | null {
  let any = false;
  for (let c = 1; c < data.length; c += 1) {
    const column = data[c]!;
    for (let i = 0; i < column.length; i += 1) {
      const v = column[i];
      if (v === null || v === undefined) continue;
      if (v !== 0 || !notes.zero) return null;
      any = true;
    }
  }
  return any ? notes.zero! : notes.none;
}
