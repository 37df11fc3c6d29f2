import type { z } from 'zod';

/** One line of newline-delimited JSON checked against `schema`: the value, or null when it is not JSON or not valid. */
export function parseJsonLine<S extends z.ZodType>(schema: S, line: string): z.output<S> | null {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : null;
}
