import { InputInjector, type InputBackend } from '../../../src/core/input/injector';
import { keysForChar } from '../../../src/core/input/keymap';

function recorder() {
  const calls: string[] = [];
  const backend: InputBackend = {
    keyDown: async (keys) => void calls.push(`down ${keys.join('+')}`),
    keyUp: async (keys) => void calls.push(`up ${keys.join('+')}`),
    move: async (x, y) => void calls.push(`move ${x},${y}`),
    button: async (button, down) => void calls.push(`${button} ${down ? 'down' : 'up'}`),
    wheel: async (dx, dy) => void calls.push(`wheel ${dx},${dy}`),
  };
  return { calls, backend };
}

describe('keymap', () => {
  it('maps every printable ASCII character, shifted symbols with an explicit Shift', () => {
    for (let code = 32; code < 127; code += 1) expect(keysForChar(String.fromCharCode(code)), String.fromCharCode(code)).not.toBeNull();
    expect(keysForChar('!')).toEqual(['LeftShift', 'Num1']);
    expect(keysForChar('@')).toEqual(['LeftShift', 'Num2']);
    expect(keysForChar('1')).toEqual(['Num1']);
    expect(keysForChar('Q')).toEqual(['LeftShift', 'Q']);
    expect(keysForChar('q')).toEqual(['Q']);
    expect(keysForChar('é')).toBeNull();
  });
});

describe('input injector', () => {
  it('injects nothing when the gate says no', async () => {
    const { calls, backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: false, reason: 'no input scope' }) });
    expect(await injector.inject({ kind: 'text', text: 'abc' })).toEqual({ injected: false, reason: 'no input scope' });
    expect(await injector.inject({ kind: 'mouse.move', x: 1, y: 2 })).toEqual({ injected: false, reason: 'no input scope' });
    expect(calls).toEqual([]);
  });

  it('types with explicit combinations, releasing each', async () => {
    const { calls, backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: true }) });
    await injector.inject({ kind: 'text', text: 'a!' });
    expect(calls).toEqual(['down A', 'up A', 'down LeftShift+Num1', 'up Num1+LeftShift']);
  });

  it('stops mid-text when the kill switch is used', async () => {
    const { calls, backend } = recorder();
    let allowed = true;
    const slow: InputBackend = { ...backend, keyUp: async (keys) => { await backend.keyUp(keys); allowed = false; } };
    const injector = new InputInjector(slow, { allowed: () => (allowed ? { ok: true } : { ok: false, reason: 'killed' }) });
    expect(await injector.inject({ kind: 'text', text: 'abc' })).toEqual({ injected: false, reason: 'killed' });
    expect(calls).toEqual(['down A', 'up A']);
  });

  it('releases held keys and buttons at session end', async () => {
    const { calls, backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: true }) });
    await injector.inject({ kind: 'key', key: 'LeftShift', down: true });
    await injector.inject({ kind: 'key', key: 'a', down: true });
    await injector.inject({ kind: 'mouse.button', button: 'left', down: true });
    calls.length = 0;
    await injector.releaseAll();
    expect(calls.sort()).toEqual(['left up', 'up A', 'up LeftShift']);
    calls.length = 0;
    await injector.releaseAll();
    expect(calls).toEqual([]);
  });

  it('a one-character key presses that character\'s own key, not the Shift its symbol needs (a browser sends Shift itself)', async () => {
    const { calls, backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: true }) });
    await injector.inject({ kind: 'key', key: 'LeftShift', down: true });
    for (const key of ['!', '?', 'H', '4', ',']) {
      await injector.inject({ kind: 'key', key, down: true });
      await injector.inject({ kind: 'key', key, down: false });
    }
    await injector.inject({ kind: 'key', key: 'LeftShift', down: false });
    expect(calls).toEqual(['down LeftShift', 'down Num1', 'up Num1', 'down Slash', 'up Slash', 'down H', 'up H', 'down Num4', 'up Num4', 'down Comma', 'up Comma', 'up LeftShift']);
  });

  it('refuses unknown keys and characters without a key', async () => {
    const { calls, backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: true }) });
    expect((await injector.inject({ kind: 'key', key: 'SysRq', down: true })).injected).toBe(false);
    expect((await injector.inject({ kind: 'text', text: 'aé' })).injected).toBe(false);
    expect(calls).toEqual([]);
  });

  it('rate-limits', async () => {
    const { backend } = recorder();
    const injector = new InputInjector(backend, { allowed: () => ({ ok: true }) }, { eventsPerSecond: 10, burst: 5, charsPerEvent: 100 });
    const results = [];
    for (let i = 0; i < 8; i += 1) results.push(await injector.inject({ kind: 'mouse.move', x: i, y: i }));
    expect(results.filter((r) => r.injected)).toHaveLength(5);
    expect(results.at(-1)).toEqual({ injected: false, reason: 'rate limited' });
  });
});
