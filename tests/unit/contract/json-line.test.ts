import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseJsonLine } from '../../../src/shared/json-line';

describe('parseJsonLine', () => {
  const Schema = z.object({ type: z.literal('x'), n: z.number() }).strict();

  it('returns the checked value of a valid line', () => {
    expect(parseJsonLine(Schema, '{"type":"x","n":3}')).toEqual({ type: 'x', n: 3 });
  });

  it('returns null for a torn line, non-JSON, or JSON the schema refuses', () => {
    for (const line of ['{"type":"x","n":', 'hello', '', '{"type":"x","n":"3"}', '{"type":"x","n":3,"extra":1}', '[1]']) expect(parseJsonLine(Schema, line), line).toBeNull();
  });
});
