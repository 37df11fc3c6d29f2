import { useEffect, useRef } from 'react';
import type { LiveSeries } from '../metrics/live-series';

interface Props<K extends string> {
  live: LiveSeries<K>;
  address: string;
  figure: K;
  format: (value: number | null) => string;
  /** Shown until the first point arrives. */
  initial: number | null;
}

/** The latest value of one series, written straight into the DOM when a point arrives (no React render per point). */
export function LiveFigure<K extends string>({ live, address, figure, format, initial }: Props<K>) {
  const element = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    const write = () => {
      const value = live.raw(address) ? live.latest(address, figure) : initial;
      if (element.current) element.current.textContent = format(value);
    };
    write();
    return live.subscribe((changed) => {
      if (changed === address) write();
    });
  }, [live, address, figure, format, initial]);
  return <span ref={element}>{format(initial)}</span>;
}
