// Cross-correlation of two recordings through an FFT: where `probe` sits in `haystack`, how strongly
// (normalized correlation at the peak, 1 = the same waveform), and the runs of silence inside it.

function fft(re: Float64Array, im: Float64Array, invert: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i += 1) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = ((invert ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let j = 0; j < len / 2; j += 1) {
        const a = i + j;
        const b = a + len / 2;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
        const next = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = next;
      }
    }
  }
}

/** s16le interleaved stereo -> mono floats (left channel). */
export function monoOf(raw: Buffer): Float64Array {
  const frames = Math.floor(raw.length / 4);
  const out = new Float64Array(frames);
  for (let i = 0; i < frames; i += 1) out[i] = raw.readInt16LE(i * 4) / 32768;
  return out;
}

/** The lag (in samples) at which `probe` best matches `haystack`, and the normalized correlation there. */
export function locate(haystack: Float64Array, probe: Float64Array): { lag: number; score: number } {
  let n = 1;
  while (n < haystack.length + probe.length) n <<= 1;
  const ar = new Float64Array(n);
  const ai = new Float64Array(n);
  const br = new Float64Array(n);
  const bi = new Float64Array(n);
  ar.set(haystack);
  br.set(probe);
  fft(ar, ai, false);
  fft(br, bi, false);
  for (let i = 0; i < n; i += 1) {
    // A · conj(B)
    const r = ar[i]! * br[i]! + ai[i]! * bi[i]!;
    const im = ai[i]! * br[i]! - ar[i]! * bi[i]!;
    ar[i] = r;
    ai[i] = im;
  }
  fft(ar, ai, true);
  let lag = 0;
  let best = -Infinity;
  for (let i = 0; i <= haystack.length - probe.length; i += 1) {
    if (ar[i]! > best) {
      best = ar[i]!;
      lag = i;
    }
  }
  const energy = (x: Float64Array, from: number, length: number) => {
    let sum = 0;
    for (let i = from; i < from + length; i += 1) sum += x[i]! * x[i]!;
    return sum;
  };
  const score = best / n / Math.sqrt(energy(haystack, lag, probe.length) * energy(probe, 0, probe.length) || 1);
  return { lag, score };
}

/** Runs of (near) digital silence longer than `minSamples` inside [from, from + length), as lengths. */
export function silentGaps(signal: Float64Array, from: number, length: number, minSamples: number, threshold = 1 / 32768): number[] {
  const gaps: number[] = [];
  let run = 0;
  const end = Math.min(signal.length, from + length);
  for (let i = from; i <= end; i += 1) {
    if (i < end && Math.abs(signal[i]!) <= threshold) run += 1;
    else {
      if (run > minSamples) gaps.push(run);
      run = 0;
    }
  }
  return gaps;
}

/**
 * The signal cut into windows, each located in the recording on its own (a gap or a shift between them
 * does not hide the others): how many are found (normalized correlation above `minScore`), and the lag
 * of the first found, in samples.
 */
export function windowsFound(recording: Float64Array, original: Float64Array, windowSamples: number, minScore = 0.6): { found: number; total: number; firstLag: number | null } {
  let found = 0;
  let total = 0;
  let firstLag: number | null = null;
  for (let start = 0; start + windowSamples <= original.length; start += windowSamples) {
    total += 1;
    const { lag, score } = locate(recording, original.subarray(start, start + windowSamples));
    if (score > minScore) {
      found += 1;
      firstLag ??= lag - start;
    }
  }
  return { found, total, firstLag };
}
