import { describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../../src/shared/contract';
import { nothingShared } from '../../../src/renderer/src/store/selectors';

const session = (state: SessionInfo['state']) => ({ state });

describe('the kill switch is offered only while something is shared', () => {
  it('nothing shared: sharing off and no session streaming (ended ones do not count)', () => {
    expect(nothingShared({ sharing: false }, [])).toBe(true);
    expect(nothingShared({ sharing: false }, [session('stopped'), session('failed')])).toBe(true);
  });
  it('shared: sharing on, or a session still streaming after sharing went off', () => {
    expect(nothingShared({ sharing: true }, [])).toBe(false);
    for (const state of ['starting', 'running', 'restarting'] as const) expect(nothingShared({ sharing: false }, [session(state)])).toBe(false);
  });
  it('not read yet: offered (a kill switch is never hidden on a guess)', () => {
    expect(nothingShared(null, [])).toBe(false);
    expect(nothingShared({ sharing: false }, null)).toBe(false);
  });
});
