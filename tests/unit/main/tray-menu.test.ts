import { describe, expect, it } from 'vitest';
import { trayIconState, trayMenu, trayTooltip, type TrayHostState } from '../../../src/main/tray-menu';

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

  it('error wins the icon and is shown in the menu', () => {
    const state = { ...base, sharing: true, sessions: [{ id: 's1', peerName: 'x' }], error: 'encoder crashed' };
    expect(trayIconState(state)).toBe('error');
    expect(trayMenu(state)).toContainEqual({ kind: 'label', label: 'Error: encoder crashed' });
  });

  it('is a pure function: same state, same menu', () => {
    const state = { ...base, sharing: true };
    expect(trayMenu(state)).toEqual(trayMenu({ ...state }));
  });
});
