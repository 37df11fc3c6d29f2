// The peer's rows of bench/latency's stage split (GPU_BRIDGE_AUDIO_STAGES), as rtp's and srt's sound
// receivers both keep them: a frame's first arrival joined to its row once written, one JSON line each.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PeerStages } from '../../../src/core/audio/audio-stages';

const sources = { sink: { queuedBytes: 2304, framesDropped: 0 }, feeder: { stale: 0 }, playout: { targetDelay: 16.5 }, delay: { ownDelay: 16.5, videoDelay: 7.8 } };
const context = { queued: 2304, dropped: 0, stale: 0, target: 16.5, own: 16.5, video: 7.8 };

describe('the peer\'s stage rows', () => {
  it('are kept only where GPU_BRIDGE_AUDIO_STAGES names a folder', () => {
    expect(PeerStages.fromEnv({})).toBeNull();
  });

  it('join a frame\'s first arrival to when it was due, taken out and written; a frame never seen arrive says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gb-peer-stages-'));
    const stages = PeerStages.fromEnv({ GPU_BRIDGE_AUDIO_STAGES: dir })!;
    stages.arrived(1000.4, 1003.2);
    stages.written({ hostMs: 1000.4, at: 1016.9, source: 'packet' }, 1017.3, 1017.5, sources);
    stages.written({ hostMs: 1010.4, at: 1026.9, source: 'concealed' }, 1027.1, 1027.2, sources);
    stages.close();
    const [file] = readdirSync(dir);
    expect(file).toBe(`peer-${process.pid}.jsonl`);
    const rows = readFileSync(join(dir, file!), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toEqual([
      { hostMs: 1000.4, received: 1003.2, due: 1016.9, out: 1017.3, written: 1017.5, ...context, concealed: 0 },
      { hostMs: 1010.4, received: null, due: 1026.9, out: 1027.1, written: 1027.2, ...context, concealed: 1 },
    ]);
  });
});
