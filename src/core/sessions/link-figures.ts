import type { LinkFigure, TransportCapabilities } from '../../shared/transports';
import type { LinkStats } from './viewer-link';

/** A viewer's per-second link figures; null where its transport does not report one (or nothing came this second). */
export type LinkFigures = Record<LinkFigure, number | null>;

const FROM_STATS: Record<LinkFigure, (stats: LinkStats) => number | null | undefined> = {
  packetsLost: (stats) => stats.lost,
  fecRecovered: (stats) => stats.fecRecovered,
  nackRecovered: (stats) => stats.nackRecovered,
  framesLost: (stats) => stats.framesLost,
  keyframeRequests: (stats) => stats.keyframeRequests,
  cleanPictureMs: (stats) => stats.cleanPictureMs,
  queueDelayMs: (stats) => stats.queueDelayMs,
};

/** The figures `caps` says its transport reports, read from this second's stats. */
export function linkFigures(caps: TransportCapabilities, stats: LinkStats | null): LinkFigures {
  const figures = {} as LinkFigures;
  for (const key of Object.keys(FROM_STATS) as LinkFigure[]) figures[key] = stats && caps.figures.includes(key) ? (FROM_STATS[key](stats) ?? null) : null;
  return figures;
}
