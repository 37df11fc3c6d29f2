import type { InputEvent } from '../../shared/contract/peers';
import { keysForChar, NAMED_KEYS, type KeyName } from './keymap';

/** What actually presses keys and moves the pointer (nut-js on the desktop; a recorder in tests). */
export interface InputBackend {
  keyDown(keys: KeyName[]): Promise<void>;
  keyUp(keys: KeyName[]): Promise<void>;
  move(x: number, y: number): Promise<void>;
  button(button: 'left' | 'middle' | 'right', down: boolean): Promise<void>;
  wheel(dx: number, dy: number): Promise<void>;
}

export type InjectResult = { injected: true } | { injected: false; reason: string };

export interface InjectorGate {
  /** Whether this peer may inject now: it has the `input` scope, a session is live and the kill switch is not used. */
  allowed(): { ok: true } | { ok: false; reason: string };
}

/**
 * Injects one peer's input events: only while the gate allows it, rate-limited (token bucket), with
 * every held key and button tracked so that `releaseAll()` (session end, kill switch) lets go of them.
 */
export class InputInjector {
  private readonly heldKeys = new Set<KeyName>();
  private readonly heldButtons = new Set<'left' | 'middle' | 'right'>();
  private tokens: number;
  private last = Date.now();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly backend: InputBackend,
    private readonly gate: InjectorGate,
    private readonly rate = { eventsPerSecond: 500, burst: 1000, charsPerEvent: 1000 },
  ) {
    this.tokens = rate.burst;
  }

  private take(cost: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.last) / 1000) * this.rate.eventsPerSecond);
    this.last = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Serialized so that keys of consecutive events never interleave. */
  inject(event: InputEvent): Promise<InjectResult> {
    const run = this.queue.then(() => this.injectNow(event));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async injectNow(event: InputEvent): Promise<InjectResult> {
    const gate = this.gate.allowed();
    if (!gate.ok) return { injected: false, reason: gate.reason };
    const cost = event.kind === 'text' ? event.text.length : 1;
    if (event.kind === 'text' && event.text.length > this.rate.charsPerEvent) return { injected: false, reason: 'text too long' };
    if (!this.take(cost)) return { injected: false, reason: 'rate limited' };
    switch (event.kind) {
      case 'mouse.move':
        await this.backend.move(event.x, event.y);
        break;
      case 'mouse.button':
        await this.backend.button(event.button, event.down);
        if (event.down) this.heldButtons.add(event.button);
        else this.heldButtons.delete(event.button);
        break;
      case 'mouse.wheel':
        await this.backend.wheel(event.dx, event.dy);
        break;
      case 'key': {
        // one character is one key: its own, not the Shift a symbol needs (the sender holds Shift down itself, as a keyboard does)
        const key = event.key.length === 1 ? (keysForChar(event.key.toLowerCase())?.at(-1) ?? null) : event.key;
        if (key === null || !NAMED_KEYS.has(key)) return { injected: false, reason: `unknown key ${event.key}` };
        if (event.down) {
          await this.backend.keyDown([key]);
          this.heldKeys.add(key);
        } else {
          await this.backend.keyUp([key]);
          this.heldKeys.delete(key);
        }
        break;
      }
      case 'text': {
        const unknown = [...event.text].filter((ch) => keysForChar(ch) === null);
        if (unknown.length > 0) return { injected: false, reason: `characters without a key on this layout: ${JSON.stringify(unknown.slice(0, 5).join(''))}` };
        for (const ch of event.text) {
          // re-check between characters: a kill switch mid-text stops at once
          const still = this.gate.allowed();
          if (!still.ok) return { injected: false, reason: still.reason };
          const keys = keysForChar(ch)!;
          await this.backend.keyDown(keys);
          await this.backend.keyUp([...keys].reverse());
        }
        break;
      }
    }
    return { injected: true };
  }

  /** Lets go of every key and button this peer holds. */
  async releaseAll(): Promise<void> {
    const keys = [...this.heldKeys];
    const buttons = [...this.heldButtons];
    this.heldKeys.clear();
    this.heldButtons.clear();
    for (const key of keys) await this.backend.keyUp([key]).catch(() => undefined);
    for (const button of buttons) await this.backend.button(button, false).catch(() => undefined);
  }
}

/** The nut-js backend, loaded on first use (it opens the X display). */
export async function createNutBackend(): Promise<InputBackend> {
  const nut = await import('@nut-tree/nut-js');
  nut.keyboard.config.autoDelayMs = 0;
  nut.mouse.config.autoDelayMs = 0;
  const toKeys = (names: KeyName[]) => names.map((name) => {
    const key = (nut.Key as unknown as Record<string, number>)[name];
    if (key === undefined) throw new Error(`no key ${name}`);
    return key as unknown as (typeof nut.Key)[keyof typeof nut.Key];
  });
  const toButton = (button: 'left' | 'middle' | 'right') => (button === 'left' ? nut.Button.LEFT : button === 'middle' ? nut.Button.MIDDLE : nut.Button.RIGHT);
  return {
    // one key per call: with several keys nut-js treats all but the last as modifiers and drops
    // non-modifier ones, so a multi-key release would leave keys held
    keyDown: async (names) => {
      for (const key of toKeys(names)) await nut.keyboard.pressKey(key);
    },
    keyUp: async (names) => {
      for (const key of toKeys(names)) await nut.keyboard.releaseKey(key);
    },
    move: async (x, y) => void (await nut.mouse.setPosition(new nut.Point(x, y))),
    button: async (button, down) => void (down ? await nut.mouse.pressButton(toButton(button)) : await nut.mouse.releaseButton(toButton(button))),
    wheel: async (dx, dy) => {
      if (dy > 0) await nut.mouse.scrollDown(dy);
      if (dy < 0) await nut.mouse.scrollUp(-dy);
      if (dx > 0) await nut.mouse.scrollRight(dx);
      if (dx < 0) await nut.mouse.scrollLeft(-dx);
    },
  };
}
