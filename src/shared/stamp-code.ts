/**
 * The latency stamp (shared: the host draws it, the peer and the browser's Watch page read it): a strip of black and white 16×16 blocks added below the picture (the frame is
 * padded, so the viewer's picture is untouched and the peer crops the strip off before display). It
 * carries the capture wall-clock time in milliseconds, modulo 2^32, bit by bit.
 *
 * The host draws it with ffmpeg's drawbox filters, each enabled by one bit of the frame's timestamp;
 * the frame timestamp is the wall clock at capture (`-use_wallclock_as_timestamps 1` with `-copyts`).
 * Blocks of 16×16 on the 16-pixel grid are whole macroblocks, so they survive the encoder at any sane bitrate,
 * and stay on the right side of the middle even at the coarsest quantizer (see AMBIGUOUS_LOW).
 */
export const STAMP_BLOCK = 16;
export const STAMP_COLUMNS = 16;
export const STAMP_ROWS = 2;
export const STAMP_BITS = STAMP_COLUMNS * STAMP_ROWS;
/** Height added below the picture. */
export const STAMP_STRIP_HEIGHT = STAMP_BLOCK * STAMP_ROWS;
export const STAMP_STRIP_WIDTH = STAMP_BLOCK * STAMP_COLUMNS;
/** Bytes of one gray strip as the receiver reads it. */
export const STAMP_STRIP_BYTES = STAMP_STRIP_WIDTH * STAMP_STRIP_HEIGHT;

/**
 * Block means strictly between these make a stamp unreadable. Not wider: an encoder run's first frame
 * (an IDR squeezed into the one-frame VBV) codes the strip at QP 51, where libx264's blocks come back
 * as coarse levels about 16 apart, as far as 82 off the drawn black (16) or white (235), measured up to
 * 98 and down to 163, yet on the right side of the middle: a band of 64..192 called the first frame of
 * about one run in forty unreadable (the self-test's "119 of 120 intact"). A damaged block (ffmpeg's
 * gray concealment, 128) still lands in it.
 */
export const AMBIGUOUS_LOW = 112;
export const AMBIGUOUS_HIGH = 144;

export type StampRead = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * Reads a stamp from a gray strip. Each block is sampled over its inner 8×8 pixels and read as light
 * when its mean is past the middle (AMBIGUOUS_LOW..AMBIGUOUS_HIGH); a block in that middle band, as a
 * gray concealed or smeared block is, makes the stamp unreadable (a damaged frame).
 */
export function readStamp(strip: Uint8Array): StampRead {
  if (strip.length !== STAMP_STRIP_BYTES) return { ok: false, reason: `strip of ${strip.length} bytes, expected ${STAMP_STRIP_BYTES}` };
  let ms = 0;
  for (let bit = 0; bit < STAMP_BITS; bit += 1) {
    const row = Math.floor(bit / STAMP_COLUMNS);
    const column = bit % STAMP_COLUMNS;
    let sum = 0;
    for (let dy = 4; dy < 12; dy += 1) {
      const offset = (row * STAMP_BLOCK + dy) * STAMP_STRIP_WIDTH + column * STAMP_BLOCK;
      for (let dx = 4; dx < 12; dx += 1) sum += strip[offset + dx]!;
    }
    const mean = sum / 64;
    if (mean > AMBIGUOUS_LOW && mean < AMBIGUOUS_HIGH) return { ok: false, reason: `block ${bit} is ambiguous (mean ${mean.toFixed(0)})` };
    if (mean >= 128) ms += 2 ** bit;
  }
  return { ok: true, ms };
}

/** Draws a stamp into a gray strip (tests and the stand-in source). */
export function writeStamp(ms: number): Uint8Array {
  const strip = new Uint8Array(STAMP_STRIP_BYTES);
  const value = ms % 2 ** 32;
  for (let bit = 0; bit < STAMP_BITS; bit += 1) {
    if (Math.floor(value / 2 ** bit) % 2 === 0) continue;
    const row = Math.floor(bit / STAMP_COLUMNS);
    const column = bit % STAMP_COLUMNS;
    for (let dy = 0; dy < STAMP_BLOCK; dy += 1) strip.fill(255, (row * STAMP_BLOCK + dy) * STAMP_STRIP_WIDTH + column * STAMP_BLOCK, (row * STAMP_BLOCK + dy) * STAMP_STRIP_WIDTH + (column + 1) * STAMP_BLOCK);
  }
  return strip;
}

/**
 * Milliseconds from a stamp (wall clock mod 2^32) to a full wall-clock time `nowMs` on the same clock:
 * the difference modulo 2^32, folded into (-2^31, 2^31] so a clock slightly behind gives a small negative.
 */
export function stampAgeMs(stampMs: number, nowMs: number): number {
  const modulus = 2 ** 32;
  let age = (((Math.floor(nowMs) % modulus) - stampMs) % modulus + modulus) % modulus;
  if (age > modulus / 2) age -= modulus;
  return age;
}
