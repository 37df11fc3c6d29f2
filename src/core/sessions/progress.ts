/** One block of ffmpeg's `-progress` output (key=value lines ending with `progress=continue|end`). */
export interface EncoderProgress {
  frame: number;
  fps: number;
  bitrateKbps: number | null;
  totalBytes: number;
  dropped: number;
  duplicated: number;
  speed: number | null;
  end: boolean;
}

function number(value: string | undefined): number | null {
  if (value === undefined) return null;
  const parsed = Number.parseFloat(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/** Feeds on stdout chunks; calls back once per complete block. Unknown keys are ignored, N/A reads as null. */
export class ProgressParser {
  private pending = '';
  private fields = new Map<string, string>();

  constructor(private readonly onProgress: (progress: EncoderProgress) => void) {}

  push(chunk: string): void {
    this.pending += chunk;
    if (this.pending.length > 65_536) this.pending = this.pending.slice(-4096);
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline).trim();
      this.pending = this.pending.slice(newline + 1);
      const equals = line.indexOf('=');
      if (equals <= 0) continue;
      const key = line.slice(0, equals).trim();
      const value = line.slice(equals + 1).trim();
      if (key === 'progress') {
        this.emit(value === 'end');
        continue;
      }
      if (this.fields.size < 64) this.fields.set(key, value);
    }
  }

  private emit(end: boolean): void {
    const f = this.fields;
    const bitrate = f.get('bitrate');
    this.onProgress({
      frame: number(f.get('frame')) ?? 0,
      fps: number(f.get('fps')) ?? 0,
      bitrateKbps: bitrate && bitrate.endsWith('kbits/s') ? number(bitrate) : null,
      totalBytes: number(f.get('total_size')) ?? 0,
      dropped: number(f.get('drop_frames')) ?? 0,
      duplicated: number(f.get('dup_frames')) ?? 0,
      speed: number(f.get('speed')?.replace(/x$/, '')),
      end,
    });
    this.fields = new Map();
  }
}
