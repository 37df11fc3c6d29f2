import { describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../../src/shared/contract/sessions';
import { trayIconState, trayMenu, traySessions, trayTooltip, type TrayHostState } from '../../../src/main/tray-menu';

const base: TrayHostState = { sharing: false, sessions: [], error: null, killSwitchAvailable: true };

describe('tray menu', () => {
  it('idle: open, share off, kill switch disabled, quit', () => {
    const menu = trayMenu(base);
    expect(menu[0]).toMatchObject({ kind: 'item', label: 'Open dashboard', action: { type: 'open-dashboard' } });
    expect(menu.find((item) => item.kind === 'checkbox')).toMatchObject({ checked: false, action: { type: 'set-sharing', sharing: true } });
    expect(menu.find((item) => item.kind === 'item' && item.action.type === 'kill-switch')).toMatchObject({ enabled: false });
    expect(menu.at(-1)).toMatchObject({ kind: 'item', action: { type: 'quit' } });
    expect(trayIconState(base)).toBe('idle');
  });

  it('sharing: the toggle turns it off, icon says sharing', () => {
    const state = { ...base, sharing: true };
    expect(trayMenu(state).find((item) => item.kind === 'checkbox')).toMatchObject({ checked: true, action: { type: 'set-sharing', sharing: false } });
    expect(trayIconState(state)).toBe('sharing');
    expect(trayTooltip(state)).toMatch(/sharing on/);
  });

  it('live sessions: one Stop item each, icon live', () => {
    const state = { ...base, sharing: true, sessions: [{ id: 's1', peerName: 'cloud-a' }, { id: 's2', peerName: 'cloud-b' }] };
    const stops = trayMenu(state).filter((item) => item.kind === 'item' && item.action.type === 'stop-session');
    expect(stops.map((item) => (item.kind === 'item' ? item.label : ''))).toEqual(['Stop cloud-a', 'Stop cloud-b']);
    expect(stops.map((item) => (item.kind === 'item' && item.action.type === 'stop-session' ? item.action.sessionId : ''))).toEqual(['s1', 's2']);
    expect(trayIconState(state)).toBe('live');
    expect(trayTooltip(state)).toBe('GPU Bridge: 2 live sessions');
  });

  it('shows how many sessions are live, and Stop all sessions only enabled when there are some', () => {
    const stopAll = (menu: ReturnType<typeof trayMenu>) => menu.find((item) => item.kind === 'item' && item.action.type === 'stop-all-sessions');
    expect(trayMenu(base)).toContainEqual({ kind: 'label', label: 'No live sessions' });
    expect(stopAll(trayMenu(base))).toMatchObject({ label: 'Stop all sessions', enabled: false });
    const one = { ...base, sharing: true, sessions: [{ id: 's1', peerName: 'cloud-a' }] };
    expect(trayMenu(one)).toContainEqual({ kind: 'label', label: 'Live sessions: 1' });
    expect(stopAll(trayMenu(one))).toMatchObject({ enabled: true });
    const three = { ...one, sessions: [...one.sessions, { id: 's2', peerName: 'b' }, { id: 's3', peerName: 'c' }] };
    expect(trayMenu(three)).toContainEqual({ kind: 'label', label: 'Live sessions: 3' });
    // Stop all sessions is not the kill switch: it leaves sharing on
    expect(stopAll(trayMenu(three))).not.toEqual(trayMenu(three).find((item) => item.kind === 'item' && item.action.type === 'kill-switch'));
  });

  it('error wins the icon and is shown in the menu', () => {
    const state = { ...base, sharing: true, sessions: [{ id: 's1', peerName: 'x' }], error: 'encoder crashed' };
    expect(trayIconState(state)).toBe('error');
    expect(trayMenu(state)).toContainEqual({ kind: 'label', label: 'Error: encoder crashed' });
  });

  it('is a pure function: same state, same menu', () => {
    const state = { ...base, sharing: true };
    expect(trayMenu(state)).toEqual(trayMenu({ ...state }));
  });

  it('counts only live sessions from sessions.changed, named by their viewers', () => {
    const session = (id: string, state: SessionInfo['state'], viewers: string[]) => ({ id, state, viewers }) as SessionInfo;
    const list = [session('a1b2c3d4-0000', 'running', ['cloud-a', 'cloud-b']), session('e5f6a7b8-0000', 'failed', ['x']), session('c0ffee00-0000', 'starting', []), session('d', 'stopped', ['y']), session('r', 'restarting', ['z'])];
    expect(traySessions(list)).toEqual([
      { id: 'a1b2c3d4-0000', peerName: 'cloud-a, cloud-b' },
      { id: 'c0ffee00-0000', peerName: 'session c0ffee00' },
      { id: 'r', peerName: 'z' },
    ]);
    expect(trayMenu({ ...base, sessions: traySessions(list) })).toContainEqual({ kind: 'label', label: 'Live sessions: 3' });
  });
});
