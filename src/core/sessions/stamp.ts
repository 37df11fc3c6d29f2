import { STAMP_BITS, STAMP_BLOCK, STAMP_COLUMNS, STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH } from '../../shared/stamp-code';

// the strip's layout and reading live in shared (the browser's Watch page reads it too); the filters that draw it here
export * from '../../shared/stamp-code';

/** ffmpeg filters (comma-joined) that pad the frame and draw the stamp of its timestamp `t`. */
export function stampFilters(): string[] {
  // the strip starts on a 16-row boundary (1080 is not one), so its blocks are whole macroblocks
  return [`pad=iw:ceil(ih/16)*16+${STAMP_STRIP_HEIGHT}:0:0:black`, ...bitFilters()];
}

/** The stamp drawn over the frame's own bottom rows (a black strip, then its blocks): an on-screen stamp, for benches. */
export function onScreenStampFilters(): string[] {
  return [`drawbox=x=0:y=ih-${STAMP_STRIP_HEIGHT}:w=${STAMP_STRIP_WIDTH}:h=${STAMP_STRIP_HEIGHT}:c=black:t=fill`, ...bitFilters()];
}

function bitFilters(): string[] {
  const filters: string[] = [];
  for (let bit = 0; bit < STAMP_BITS; bit += 1) {
    const row = Math.floor(bit / STAMP_COLUMNS);
    const column = bit % STAMP_COLUMNS;
    const x = column * STAMP_BLOCK;
    const y = `ih-${STAMP_STRIP_HEIGHT - row * STAMP_BLOCK}`;
    // `\,` escapes the comma inside the expression from the filter-chain parser
    filters.push(`drawbox=x=${x}:y=${y}:w=${STAMP_BLOCK}:h=${STAMP_BLOCK}:c=white:t=fill:enable='gt(bitand(floor(t*1000)\\,${2 ** bit})\\,0)'`);
  }
  return filters;
}

/** The filter that cuts the strip out at the receiver (gray, one byte per pixel). */
export function stampCropFilter(): string {
  return `crop=${STAMP_STRIP_WIDTH}:${STAMP_STRIP_HEIGHT}:0:ih-${STAMP_STRIP_HEIGHT},format=gray`;
}

/** The filter that removes the strip (and the alignment rows above it) for display. */
export function viewCropFilter(height?: number): string {
  return height ? `crop=iw:${height}:0:0` : `crop=iw:ih-${STAMP_STRIP_HEIGHT}:0:0`;
}

