import { Variant, type DbusClient } from './dbus-client';
import { streamSize, type DesktopCapture, type DesktopInput } from './desktop-capture';

const SCREEN_CAST = 'org.gnome.Mutter.ScreenCast';
const REMOTE_DESKTOP = 'org.gnome.Mutter.RemoteDesktop';
const CURSOR_EMBEDDED = 1;

/**
 * GNOME's own screen cast and remote desktop (what gnome-remote-desktop uses): Mutter's D-Bus API
 * answers any unsandboxed client of the session bus, with no dialog. For hosts where nobody sits at the
 * screen; the owner opts in, because it shares without asking. The primary monitor, cursor drawn in.
 */
export async function openMutterCapture(bus: DbusClient, options: { input: boolean }): Promise<DesktopCapture> {
  if (!(await bus.hasOwner(SCREEN_CAST))) {
    throw new Error('GNOME\'s screen cast API (org.gnome.Mutter.ScreenCast) is not on this session bus: this is not a GNOME (Mutter) session, or the compositor is not running');
  }
  let rdSession: string | null = null;
  let scOptions: Record<string, Variant> = {};
  if (options.input) {
    [rdSession] = (await bus.call(REMOTE_DESKTOP, '/org/gnome/Mutter/RemoteDesktop', REMOTE_DESKTOP, 'CreateSession')) as [string];
    const id = await bus.getProperty(REMOTE_DESKTOP, rdSession, `${REMOTE_DESKTOP}.Session`, 'SessionId');
    scOptions = { 'remote-desktop-session-id': new Variant('s', String(id)) };
  }
  const [scSession] = (await bus.call(SCREEN_CAST, '/org/gnome/Mutter/ScreenCast', SCREEN_CAST, 'CreateSession', 'a{sv}', [scOptions])) as [string];
  const stop = async () => {
    if (rdSession) await bus.call(REMOTE_DESKTOP, rdSession, `${REMOTE_DESKTOP}.Session`, 'Stop').catch(() => undefined);
    else await bus.call(SCREEN_CAST, scSession, `${SCREEN_CAST}.Session`, 'Stop').catch(() => undefined);
  };
  try {
    // '' is the primary monitor
    const [streamPath] = (await bus.call(SCREEN_CAST, scSession, `${SCREEN_CAST}.Session`, 'RecordMonitor', 'sa{sv}', ['', { 'cursor-mode': new Variant('u', CURSOR_EMBEDDED) }])) as [string];
    let gotNode: (id: number) => void = () => undefined;
    const node = new Promise<number>((resolve) => (gotNode = resolve));
    const stopListening = await bus.onSignal({ sender: SCREEN_CAST, path: streamPath, interface: `${SCREEN_CAST}.Stream`, member: 'PipeWireStreamAdded' }, (body) => gotNode(body[0] as number));
    const ended = mutterEnded(bus, rdSession ?? scSession, rdSession ? `${REMOTE_DESKTOP}.Session` : `${SCREEN_CAST}.Session`);
    if (rdSession) await bus.call(REMOTE_DESKTOP, rdSession, `${REMOTE_DESKTOP}.Session`, 'Start');
    else await bus.call(SCREEN_CAST, scSession, `${SCREEN_CAST}.Session`, 'Start');
    let timer: NodeJS.Timeout | undefined;
    const nodeId = await Promise.race([
      node,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Mutter started the screen cast but named no PipeWire stream in 10 s: is PipeWire running in this session?')), 10_000))),
    ]).finally(() => {
      clearTimeout(timer);
      stopListening();
    });
    const parameters = (await bus.getProperty(SCREEN_CAST, streamPath, `${SCREEN_CAST}.Stream`, 'Parameters').catch(() => ({}))) as Record<string, Variant>;
    return {
      kind: 'gnome',
      nodeId,
      size: streamSize(parameters.size?.value),
      input: rdSession ? mutterInput(bus, rdSession, streamPath) : null,
      ended,
      close: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function mutterEnded(bus: DbusClient, session: string, iface: string): Promise<string> {
  return new Promise((resolve) => {
    bus.once('closed', (reason: string) => resolve(`the desktop's session bus went away (${reason}): the desktop session ended; start GPU Bridge in the new one`));
    void bus.onSignal({ sender: SCREEN_CAST, path: session, interface: iface, member: 'Closed' }, () => resolve('GNOME ended the screen cast (Mutter closed the session): start the session again')).catch(() => undefined);
    void bus.onSignal({ sender: 'org.freedesktop.DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged' }, (body) => {
      if (body[0] === SCREEN_CAST && body[2] === '') resolve('the compositor (GNOME Shell or Mutter) went away: once the desktop is back, start the session again');
    }).catch(() => undefined);
  });
}

function mutterInput(bus: DbusClient, session: string, stream: string): DesktopInput {
  const notify = (member: string, signature: string, args: unknown[]) => bus.call(REMOTE_DESKTOP, session, `${REMOTE_DESKTOP}.Session`, member, signature, args, 3000).then(() => undefined);
  return {
    pointerMotionAbsolute: (x, y) => notify('NotifyPointerMotionAbsolute', 'sdd', [stream, x, y]),
    pointerButton: (button, pressed) => notify('NotifyPointerButton', 'ib', [button, pressed]),
    pointerAxisDiscrete: (axis, steps) => notify('NotifyPointerAxisDiscrete', 'ui', [axis, steps]),
    keyboardKeycode: (keycode, pressed) => notify('NotifyKeyboardKeycode', 'ub', [keycode, pressed]),
  };
}
