import type { MetricKey, MetricValues } from '../../shared/contract/metrics';

/**
 * `nvidia-smi --query-gpu` fields per metric, newest name first. Drivers rename fields (power.draw →
 * power.draw.average/instant, clocks.gr ↔ clocks.current.graphics, clocks_throttle_reasons →
 * clocks_event_reasons) and older ones lack some (utilization.encoder, encoder.stats.sessionCount).
 */
export const FIELD_ALIASES: Record<MetricKey, string[]> = {
  gpuUtilPercent: ['utilization.gpu'],
  memoryUtilPercent: ['utilization.memory'],
  encoderUtilPercent: ['utilization.encoder'],
  decoderUtilPercent: ['utilization.decoder'],
  memoryUsedBytes: ['memory.used'],
  memoryTotalBytes: ['memory.total'],
  temperatureC: ['temperature.gpu'],
  powerW: ['power.draw', 'power.draw.average', 'gpu.power.draw.average', 'power.draw.instant', 'gpu.power.draw.instant'],
  powerLimitW: ['enforced.power.limit', 'power.limit'],
  graphicsClockMHz: ['clocks.current.graphics', 'clocks.gr'],
  memoryClockMHz: ['clocks.current.memory', 'clocks.mem'],
  fanPercent: ['fan.speed'],
  encoderSessions: ['encoder.stats.sessionCount'],
};

const ID_FIELDS = ['pci.bus_id', 'name'];

/** Field names listed by `nvidia-smi --help-query-gpu` (both names of a '"a" or "b"' line). */
export function parseHelpQueryGpu(help: string): Set<string> {
  const out = new Set<string>();
  for (const line of help.split('\n')) {
    if (!line.startsWith('"')) continue;
    for (const m of line.matchAll(/"([\w.]+)"/g)) if (m[1]) out.add(m[1]);
  }
  return out;
}

/** The --query-gpu list to ask for: ids first, then for each metric the first alias this driver knows. */
export function chooseQueryFields(valid: Set<string> | null): string[] {
  const fields = [...ID_FIELDS];
  for (const aliases of Object.values(FIELD_ALIASES)) {
    const pick = valid === null ? aliases[0] : aliases.find((a) => valid.has(a));
    if (pick && !fields.includes(pick)) fields.push(pick);
  }
  return fields;
}

/** 'memory.used [MiB]' → {field: 'memory.used', unit: 'MiB'}. */
function headerField(raw: string): { field: string; unit: string | null } {
  const m = /^\s*([^[]+?)\s*(?:\[([^\]]+)\])?\s*$/.exec(raw);
  return { field: (m?.[1] ?? raw).trim(), unit: m?.[2]?.trim() ?? null };
}

const UNSAID = /^\[?(n\/a|not supported|unknown error|requested functionality has been deprecated|insufficient permissions|gpu is lost)\]?$/i;
const BYTES: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** A CSV cell as a number, or null for [N/A], [Not Supported] and friends. Memory cells come out in bytes. */
export function parseCell(raw: string, key: MetricKey | null, unit: string | null): number | null {
  const s = raw.trim();
  if (s === '' || UNSAID.test(s)) return null;
  const m = /^(-?\d+(?:\.\d+)?)\s*([a-zA-Z%]+)?$/.exec(s);
  if (!m?.[1]) return null;
  const n = Number(m[1]);
  if (key === 'memoryUsedBytes' || key === 'memoryTotalBytes') {
    const u = (m[2] ?? unit ?? 'MiB').toLowerCase();
    return Math.round(n * (BYTES[u] ?? 1024 ** 2));
  }
  return n;
}

export interface CsvRow {
  address: string | null;
  name: string | null;
  values: MetricValues;
}

const ALIAS_TO_KEY = new Map<string, MetricKey>();
for (const [key, aliases] of Object.entries(FIELD_ALIASES) as Array<[MetricKey, string[]]>) for (const a of aliases) if (!ALIAS_TO_KEY.has(a)) ALIAS_TO_KEY.set(a, key);

function normaliseBus(id: string): string | null {
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(id.trim());
  return m?.[1] && m[2] && m[3] && m[4] ? `${m[1].slice(-4)}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase() : null;
}

/**
 * Incremental parser of a `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits] -lms N` stream:
 * feed it chunks as they arrive; it calls onRow per complete data line. A header line (with or without
 * units) sets the columns; without one, the columns are the fields passed to the constructor.
 */
export class QueryGpuCsvParser {
  private columns: Array<{ key: MetricKey | null; id: 'address' | 'name' | null; unit: string | null }> = [];
  private partial = '';

  constructor(
    private readonly onRow: (row: CsvRow) => void,
    fields: string[] | null = null,
  ) {
    if (fields) this.setColumns(fields);
  }

  private setColumns(headers: string[]): void {
    this.columns = headers.map((h) => {
      const { field, unit } = headerField(h);
      const id = field === 'pci.bus_id' ? 'address' : field === 'name' ? 'name' : null;
      const key = ALIAS_TO_KEY.get(field) ?? null;
      return { key, id, unit };
    });
    // The first alias wins when a header holds two for one metric (power.draw and power.draw.average).
    const seen = new Set<MetricKey>();
    for (const c of this.columns) {
      if (c.key && seen.has(c.key)) c.key = null;
      else if (c.key) seen.add(c.key);
    }
  }

  feed(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line.replace(/\r$/, ''));
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  line(line: string): void {
    if (line.trim() === '') return;
    const cells = line.split(',').map((c) => c.trim());
    // A header names fields; a data line never starts with a field name like 'pci.bus_id' or 'timestamp'.
    if (cells.some((c) => /^(pci\.bus_id|name|timestamp|index|uuid)(\s*\[.*\])?$/.test(c))) {
      this.setColumns(cells);
      return;
    }
    if (this.columns.length === 0 || cells.length !== this.columns.length) return; // torn or foreign line
    const row: CsvRow = { address: null, name: null, values: {} };
    cells.forEach((cell, i) => {
      const c = this.columns[i];
      if (!c) return;
      if (c.id === 'address') row.address = normaliseBus(cell);
      else if (c.id === 'name') row.name = cell || null;
      else if (c.key) row.values[c.key] = parseCell(cell, c.key, c.unit);
    });
    this.onRow(row);
  }
}

/** Parses a whole CSV text (header included). */
export function parseQueryGpuCsv(text: string, fields: string[] | null = null): CsvRow[] {
  const rows: CsvRow[] = [];
  const p = new QueryGpuCsvParser((r) => rows.push(r), fields);
  p.feed(text);
  p.end();
  return rows;
}
