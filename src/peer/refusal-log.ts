export interface RefusalSummary {
  source: string;
  reason: string;
  /** Refusals this entry stands for. */
  count: number;
  /** The first of its kind in this window (said at once), or the rest of the window's (said at its end). */
  kind: 'first' | 'repeated';
}

/**
 * Refused connections, aggregated so a flood cannot grow a log without bound: the first refusal of each
 * (source, reason) in a window is written at once, the repeats as one line with their count when the
 * window ends. Sources past `maxKeys` in one window share one line ("other sources").
 */
export class RefusalLog {
  private window = new Map<string, { source: string; reason: string; repeats: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (summary: RefusalSummary) => void,
    windowMs = 60_000,
    private readonly maxKeys = 32,
  ) {
    this.timer = setInterval(() => this.flush(), windowMs);
    this.timer.unref();
  }

  note(source: string, reason: string): void {
    let key = `${source}\u0000${reason}`;
    if (!this.window.has(key) && this.window.size >= this.maxKeys) {
      source = 'other sources';
      key = `${source}\u0000${reason}`;
    }
    const entry = this.window.get(key);
    if (entry) {
      entry.repeats += 1;
      return;
    }
    this.window.set(key, { source, reason, repeats: 0 });
    this.write({ source, reason, count: 1, kind: 'first' });
  }

  /** Writes the window's repeats and starts a new window. */
  flush(): void {
    const window = this.window;
    this.window = new Map();
    for (const entry of window.values()) if (entry.repeats > 0) this.write({ source: entry.source, reason: entry.reason, count: entry.repeats, kind: 'repeated' });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
