import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureRequestFor } from '../../../src/core/capture/capture-request';
import type { DesktopInput } from '../../../src/core/capture/desktop-capture';
import { openCapture, scaledInput } from '../../../src/core/capture/open-capture';
import { pipewireFrameArgs } from '../../../src/core/capture/pipewire-frames';
import { RestoreTokenStore } from '../../../src/core/capture/restore-token-store';
import { wlrootsFrameArgs } from '../../../src/core/capture/wlroots-frames';
import { sessionTypeOf } from '../../../src/core/capture/detect';
import { desktopInputBackend } from '../../../src/core/input/desktop-input-router';
import { NAMED_KEYS } from '../../../src/core/input/keymap';
import { EVDEV_KEYS } from '../../../src/core/input/evdev-codes';

function recorder(): DesktopInput & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    pointerMotionAbsolute: async (x, y) => void calls.push(`move ${x.toFixed(1)},${y.toFixed(1)}`),
    pointerButton: async (button, pressed) => void calls.push(`button ${button} ${pressed}`),
    pointerAxisDiscrete: async (axis, steps) => void calls.push(`axis ${axis} ${steps}`),
    keyboardKeycode: async (code, pressed) => void calls.push(`key ${code} ${pressed}`),
  };
}

describe('capture requests, readers, tokens and Wayland input', () => {
  it('gnome is refused until the owner allows unattended sharing; the portal asks for input only for a peer with the input scope', () => {
    const picture = { width: 1280, height: 720, fps: 60 };
    expect(() => captureRequestFor({ kind: 'gnome' }, picture, { input: true, unattendedGnome: false })).toThrow(/unattended sharing is off/);
    expect(captureRequestFor({ kind: 'gnome' }, picture, { input: true, unattendedGnome: true })).toEqual({ kind: 'gnome', ...picture, input: true });
    expect(captureRequestFor({ kind: 'portal' }, picture, { input: false, unattendedGnome: false })).toEqual({ kind: 'portal', ...picture, input: false });
    expect(captureRequestFor({ kind: 'wlroots', output: 'HEADLESS-1' }, picture, { input: true, unattendedGnome: false })).toEqual({ kind: 'wlroots', ...picture, output: 'HEADLESS-1', input: true });
  });

  it('the reader argv: numbers and names validated, never a shell string', () => {
    expect(pipewireFrameArgs(42, 1280, 720)).toContain('path=42');
    expect(pipewireFrameArgs(42, 1280, 720)).toContain('video/x-raw,format=I420,width=1280,height=720,pixel-aspect-ratio=1/1');
    expect(() => pipewireFrameArgs(-1, 1280, 720)).toThrow(/bad PipeWire node id/);
    expect(() => pipewireFrameArgs(1.5, 1280, 720)).toThrow(/bad PipeWire node id/);
    expect(wlrootsFrameArgs(1280, 720, 'HEADLESS-1').slice(0, 2)).toEqual(['-o', 'HEADLESS-1']);
    expect(() => wlrootsFrameArgs(1280, 720, 'DP-1; rm -rf /')).toThrow(/bad output name/);
  });

  it('the session type: Wayland even with XWayland\'s DISPLAY, X11, or none', () => {
    expect(sessionTypeOf({ XDG_SESSION_TYPE: 'wayland', DISPLAY: ':0' })).toBe('wayland');
    expect(sessionTypeOf({ WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' })).toBe('wayland');
    expect(sessionTypeOf({ XDG_SESSION_TYPE: 'x11', WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' })).toBe('x11');
    expect(sessionTypeOf({})).toBe('none');
  });

  it('the restore token is kept 0600, the newest wins, and anything that is not a token is not sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gb-token-'));
    const store = new RestoreTokenStore(dir);
    expect(await store.read()).toBeNull();
    await store.write('3f6c1a2e-0b1d-4c8e-9d7a-5e2f1b0c9a77');
    await store.write('a1b2c3d4-0000-4000-8000-000000000001');
    expect(await store.read()).toBe('a1b2c3d4-0000-4000-8000-000000000001');
    expect(statSync(join(dir, 'portal-restore-token.json')).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, 'portal-restore-token.json'), JSON.stringify({ token: 'x\'; evil' }));
    expect(await store.read()).toBeNull();
    writeFileSync(join(dir, 'portal-restore-token.json'), 'not json');
    expect(await store.read()).toBeNull();
    await store.forget();
    expect(() => readFileSync(join(dir, 'portal-restore-token.json'))).toThrow();
  });

  it('every key a peer may press has an evdev code; keys, buttons and the wheel go to the desktop\'s input', async () => {
    for (const key of NAMED_KEYS) expect(EVDEV_KEYS.get(key), key).toBeGreaterThan(0);
    const input = recorder();
    const backend = desktopInputBackend(input);
    await backend.keyDown(['LeftShift', 'A']);
    await backend.keyUp(['A', 'LeftShift']);
    await backend.button('right', true);
    await backend.wheel(0, -2);
    expect(input.calls).toEqual(['key 42 true', 'key 30 true', 'key 30 false', 'key 42 false', 'button 273 true', 'axis 0 -2']);
  });

  it('the pointer lands where the peer points: the picture is the desktop scaled with borders kept', async () => {
    const input = recorder();
    // a 1920x1200 desktop in a 1280x720 picture: scale 0.6, 64-pixel borders left and right
    const mapped = scaledInput(input, { width: 1280, height: 720 }, { width: 1920, height: 1200 })!;
    await mapped.pointerMotionAbsolute(64, 0);
    await mapped.pointerMotionAbsolute(640, 360);
    await mapped.pointerMotionAbsolute(0, 719);
    expect(input.calls).toEqual(['move 0.0,0.0', 'move 960.0,600.0', 'move 0.0,1198.3']);
  });
});

describe('a capture whose reader cannot start', () => {
  it('ends with one sentence naming the source, what happened and what to do (a stand-in wf-recorder that cannot reach the compositor)', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'gb-fake-wf-'));
    writeFileSync(join(bin, 'wf-recorder'), '#!/bin/sh\necho "failed to connect to the Wayland display" >&2\nexit 1\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WAYLAND_DISPLAY: 'wayland-none' };
    await expect(openCapture({ kind: 'wlroots', width: 640, height: 360, fps: 30 }, { env, configDir: bin })).rejects.toThrow(
      /^wlroots screencopy stopped delivering frames \(exited with code 1: failed to connect to the Wayland display\), 3 times in 10 s; check that the desktop session and PipeWire are still running, then start the session again$/,
    );
  });
});
