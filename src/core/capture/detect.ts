import { existsSync } from 'node:fs';
import type { CaptureSourcesInfo, CaptureSourceStatus } from '../../shared/contract/sessions';
import { runCommand } from '../exec/run-command';
import { which } from '../exec/which';
import { DbusClient, sessionBusAddress } from './dbus-client';
import type { CaptureKind } from './open-capture';
import { portalVersions } from './portal-capture';

const WLROOTS_DESKTOPS = /^(sway|hyprland|river|wayfire|labwc|niri|wlroots|dwl|qtile)$/i;

let pipewiresrc: Promise<boolean> | null = null;

/** Whether GStreamer's pipewiresrc is installed (asked once per process). */
function hasPipewiresrc(env: NodeJS.ProcessEnv): Promise<boolean> {
  if (!which('gst-inspect-1.0', env.PATH) || !which('gst-launch-1.0', env.PATH)) return Promise.resolve(false);
  // (`--exists` answers 1 for an element on GStreamer 1.22: ask for the element itself)
  pipewiresrc ??= runCommand('gst-inspect-1.0', ['pipewiresrc'], { timeoutMs: 10_000, env, maxOutputBytes: 64 * 1024 }).then((result) => result.code === 0, () => false);
  return pipewiresrc;
}

const GST_HINT = 'install GStreamer\'s PipeWire source (Debian/Ubuntu: gstreamer1.0-pipewire gstreamer1.0-tools; Fedora: pipewire-gstreamer gstreamer1)';

/** The desktop session this process runs in: Wayland (XWayland's DISPLAY notwithstanding), X11, or none. */
export function sessionTypeOf(env: NodeJS.ProcessEnv): 'wayland' | 'x11' | 'none' {
  if (env.XDG_SESSION_TYPE === 'wayland' || (env.WAYLAND_DISPLAY && env.XDG_SESSION_TYPE !== 'x11')) return 'wayland';
  return env.DISPLAY ? 'x11' : 'none';
}

/**
 * Which capture sources work in this session and, for each that does not, why and what to do; and the
 * one a session uses when the request names none: on Wayland the portal, then GNOME's own API when the
 * owner allowed unattended sharing, then wlroots screencopy; on X11 the X display.
 */
export async function detectCaptureSources(env: NodeJS.ProcessEnv, options: { unattendedGnome: boolean }): Promise<CaptureSourcesInfo> {
  const sessionType = sessionTypeOf(env);
  const desktop = env.XDG_CURRENT_DESKTOP || null;
  const gst = await hasPipewiresrc(env);
  const address = sessionBusAddress(env);
  let bus: DbusClient | null = null;
  let busError: string | null = null;
  if (!address || (address.startsWith('unix:path=') && !existsSync(address.slice('unix:path='.length).split(',')[0]!))) {
    busError = 'this process has no session bus (DBUS_SESSION_BUS_ADDRESS is unset): run GPU Bridge inside the desktop session';
  } else {
    bus = await DbusClient.connect(address, 2000).catch((error: Error) => {
      busError = `${error.message}: run GPU Bridge inside the desktop session`;
      return null;
    });
  }
  const sources: CaptureSourceStatus[] = [];
  try {
    // x11
    if (!env.DISPLAY) sources.push({ kind: 'x11', available: false, detail: 'no X display (DISPLAY is unset)', action: sessionType === 'wayland' ? 'on Wayland choose the portal, gnome or wlroots source' : 'start GPU Bridge inside an X session or name a display' });
    else if (sessionType === 'wayland') sources.push({ kind: 'x11', available: true, detail: `X display ${env.DISPLAY} is XWayland: it shows only X11 windows, not the Wayland desktop`, action: 'choose the portal, gnome or wlroots source for the whole desktop' });
    else sources.push({ kind: 'x11', available: true, detail: `X display ${env.DISPLAY} (x11grab; input through XTest)`, action: null });

    // portal
    if (!bus) sources.push({ kind: 'portal', available: false, detail: busError ?? 'no session bus', action: 'run GPU Bridge inside the desktop session' });
    else {
      const versions = await portalVersions(bus);
      if (versions.screenCast === null) sources.push({ kind: 'portal', available: false, detail: 'no xdg-desktop-portal ScreenCast on the session bus', action: 'install xdg-desktop-portal and your desktop\'s backend (xdg-desktop-portal-gnome, -kde or -wlr)' });
      else if (versions.screenCast < 4) sources.push({ kind: 'portal', available: false, detail: `xdg-desktop-portal offers ScreenCast version ${versions.screenCast}; remembering the approval needs version 4`, action: 'update xdg-desktop-portal to 1.12 or later' });
      else if (!gst) sources.push({ kind: 'portal', available: false, detail: 'GStreamer\'s pipewiresrc is not installed (ffmpeg cannot read PipeWire)', action: GST_HINT });
      else {
        const input = versions.remoteDesktop === null ? 'no RemoteDesktop portal: view only' : versions.remoteDesktop >= 2 ? 'input through RemoteDesktop, remembered too' : 'input through RemoteDesktop (this portal asks again for each session with input)';
        sources.push({ kind: 'portal', available: true, detail: `xdg-desktop-portal ScreenCast v${versions.screenCast}; the owner approves once; ${input}`, action: null });
      }
    }

    // gnome
    const mutter = bus ? await bus.hasOwner('org.gnome.Mutter.ScreenCast').catch(() => false) : false;
    if (!mutter) sources.push({ kind: 'gnome', available: false, detail: bus ? 'GNOME\'s screen cast API (org.gnome.Mutter.ScreenCast) is not on the session bus: not a GNOME session' : (busError ?? 'no session bus'), action: 'on GNOME run GPU Bridge inside the session; elsewhere use the portal' });
    else if (!gst) sources.push({ kind: 'gnome', available: false, detail: 'GStreamer\'s pipewiresrc is not installed', action: GST_HINT });
    else if (!options.unattendedGnome) sources.push({ kind: 'gnome', available: false, detail: 'GNOME can share without asking, but unattended sharing is off', action: 'turn on "Unattended GNOME sharing" on the Sessions page (it shares the screen without a dialog)' });
    else sources.push({ kind: 'gnome', available: true, detail: 'Mutter\'s ScreenCast and RemoteDesktop, no dialog (unattended sharing is on)', action: null });

    // wlroots
    const wlroots = Boolean(env.SWAYSOCK || env.HYPRLAND_INSTANCE_SIGNATURE || (desktop && desktop.split(':').some((name) => WLROOTS_DESKTOPS.test(name))));
    if (!env.WAYLAND_DISPLAY) sources.push({ kind: 'wlroots', available: false, detail: 'no Wayland display (WAYLAND_DISPLAY is unset)', action: 'run GPU Bridge inside the Wayland session' });
    else if (!wlroots) sources.push({ kind: 'wlroots', available: false, detail: `${desktop ?? 'this desktop'} is not a wlroots compositor (no wlr-screencopy)`, action: 'use the portal' });
    else if (!which('wf-recorder', env.PATH)) sources.push({ kind: 'wlroots', available: false, detail: 'wf-recorder is not installed', action: 'install wf-recorder (Debian/Ubuntu/Fedora: wf-recorder)' });
    else sources.push({ kind: 'wlroots', available: true, detail: 'wlr-screencopy through wf-recorder; input through a virtual pointer and keyboard', action: null });

    sources.push({ kind: 'test', available: true, detail: 'ffmpeg\'s moving test pattern', action: null });
  } finally {
    bus?.close();
  }
  const usable = (kind: CaptureKind) => sources.find((s) => s.kind === kind)?.available === true;
  const order: CaptureKind[] = sessionType === 'wayland' ? ['portal', 'gnome', 'wlroots'] : ['x11'];
  return { sessionType, desktop, defaultSource: order.find(usable) ?? null, sources };
}
