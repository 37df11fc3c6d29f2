import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HeldFrames } from '../../../src/core/audio/held-frames';

describe('HeldFrames (the picture waiting for its sound)', () => {
  it('writes at once without a hold, and in order however the hold changes', async () => {
    const out = new PassThrough();
    const seen: string[] = [];
    out.on('data', (chunk: Buffer) => seen.push(chunk.toString()));
    const held = new HeldFrames(out);
    held.push(Buffer.from('a'), 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['a']);
    held.push(Buffer.from('b'), 40);
    // the hold drops from 40 to 0: c must still come after b
    held.push(Buffer.from('c'), 0);
    for (let i = 0; i < 500 && seen.length < 3; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['a', 'b', 'c']);
    held.clear();
  });
});
