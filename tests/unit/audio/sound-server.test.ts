import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSink } from '../../../src/core/audio/audio-sink';
import { HostAudio } from '../../../src/core/audio/host-audio';
import { probeSoundServer } from '../../../src/core/audio/sound-server';

/** An environment where no sound server can be reached: an empty runtime folder, a server address with nothing behind it. */
function noServerEnv(): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'gb-nosound-'));
  return { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: dir, PULSE_SERVER: `unix:${join(dir, 'none')}` };
}

describe('a machine without a sound server', () => {
  it('the probe says so in one line', async () => {
    const probe = await probeSoundServer(noServerEnv());
    expect('unavailable' in probe).toBe(true);
    const line = (probe as { unavailable: string }).unavailable;
    expect(line).not.toContain('\n');
    expect(line).toMatch(/no sound server/);
  });

  it('the host captures nothing and says why; the peer plays into a sink that counts and drops', async () => {
    const env = noServerEnv();
    const opened = await HostAudio.open({ env });
    expect(opened).toEqual({ unavailable: expect.stringMatching(/no sound server/) });
    const sink = await openSink({ env });
    expect(sink.kind).toBe('none');
    sink.write(Buffer.alloc(1920));
    expect(sink.framesDropped).toBe(1);
    await sink.close();
  });
});
