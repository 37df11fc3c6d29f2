import { randomBytes } from 'node:crypto';
import { DbusCallError, Variant, type DbusClient } from './dbus-client';
import { streamSize, type ApprovalListener, type DesktopCapture, type DesktopInput } from './desktop-capture';
import type { RestoreTokenStore } from './restore-token-store';

const PORTAL = 'org.freedesktop.portal.Desktop';
const PORTAL_PATH = '/org/freedesktop/portal/desktop';
const SCREEN_CAST = 'org.freedesktop.portal.ScreenCast';
const REMOTE_DESKTOP = 'org.freedesktop.portal.RemoteDesktop';
/** The consent dialog waits for a person: give them time, but not forever. */
const APPROVAL_TIMEOUT_MS = 5 * 60_000;
const SOURCE_MONITOR = 1;
const CURSOR_EMBEDDED = 2;
const PERSIST_UNTIL_REVOKED = 2;
const DEVICES_KEYBOARD_POINTER = 1 | 2;

/** What the portal answered and what a person can do about it: a refusal, a cancel, a missing portal. */
export class PortalError extends Error {
  constructor(
    readonly code: 'no-portal' | 'too-old' | 'cancelled' | 'refused' | 'no-stream' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

export interface PortalVersions {
  screenCast: number | null;
  remoteDesktop: number | null;
}

/** The portal's ScreenCast and RemoteDesktop versions (null: not offered in this session). */
export async function portalVersions(bus: DbusClient): Promise<PortalVersions> {
  const version = async (iface: string) => {
    try {
      const value = await bus.getProperty(PORTAL, PORTAL_PATH, iface, 'version');
      return typeof value === 'number' ? value : null;
    } catch {
      return null;
    }
  };
  return { screenCast: await version(SCREEN_CAST), remoteDesktop: await version(REMOTE_DESKTOP) };
}

export interface PortalCaptureOptions {
  bus: DbusClient;
  tokens: RestoreTokenStore;
  /** Also open pointer and keyboard in the same session (one approval covers both). */
  input: boolean;
  onApproval?: ApprovalListener;
}

/** `Request` objects: every portal call answers through a Response signal on a path we can predict. */
class Requests {
  private counter = 0;
  private readonly sender: string;

  constructor(private readonly bus: DbusClient) {
    this.sender = bus.uniqueName.replace(/^:/, '').replace(/\./g, '_');
  }

  token(prefix: string): string {
    this.counter += 1;
    return `gpubridge_${prefix}${this.counter}_${randomBytes(4).toString('hex')}`;
  }

  sessionPath(token: string): string {
    return `${PORTAL_PATH}/session/${this.sender}/${token}`;
  }

  /** Calls a portal method whose options take `handle_token`, and waits for its Response. */
  async call(iface: string, member: string, signature: string, args: unknown[], options: Record<string, Variant>, timeoutMs: number): Promise<Record<string, Variant>> {
    const token = this.token('req');
    const path = `${PORTAL_PATH}/request/${this.sender}/${token}`;
    let settle: (value: { code: number; results: Record<string, Variant> }) => void = () => undefined;
    const answered = new Promise<{ code: number; results: Record<string, Variant> }>((resolve) => (settle = resolve));
    const stop = await this.bus.onSignal({ sender: PORTAL, path, interface: 'org.freedesktop.portal.Request', member: 'Response' }, (body) => {
      settle({ code: body[0] as number, results: (body[1] ?? {}) as Record<string, Variant> });
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.bus.call(PORTAL, PORTAL_PATH, iface, member, signature, [...args, { ...options, handle_token: new Variant('s', token) }]);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PortalError('failed', `the portal did not answer ${member} in ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      });
      const { code, results } = await Promise.race([answered, timeout]);
      if (code === 1) throw new PortalError('cancelled', 'the screen share was cancelled on the workstation: start the session again and approve the share there');
      if (code !== 0) throw new PortalError('refused', 'the screen share was refused on the workstation (or its dialog closed): start the session again and approve it, or check the desktop\'s screen sharing settings');
      return results;
    } finally {
      clearTimeout(timer);
      stop();
    }
  }
}

function portalCallError(error: unknown): Error {
  if (error instanceof PortalError) return error;
  if (error instanceof DbusCallError && /ServiceUnknown|UnknownMethod|UnknownInterface|UnknownObject/.test(error.dbusName)) {
    return new PortalError('no-portal', `xdg-desktop-portal offers no screen cast here (${error.message}); install xdg-desktop-portal and your desktop's backend (xdg-desktop-portal-gnome, -kde or -wlr)`);
  }
  return new PortalError('failed', (error as Error).message);
}

/**
 * Opens a ScreenCast (and, with input, RemoteDesktop) session through xdg-desktop-portal: the primary
 * monitor with the cursor drawn in, remembered until revoked (`persist_mode=2`) with the restore token
 * kept in `tokens`, so the owner approves once. A token the portal no longer honours simply leads to a
 * new request (the dialog again). RemoteDesktop sessions can be remembered from the portal's
 * RemoteDesktop version 2 on; before that (xdg-desktop-portal 1.16) a session with input asks every time.
 */
export async function openPortalCapture(options: PortalCaptureOptions): Promise<DesktopCapture> {
  const { bus, tokens } = options;
  const versions = await portalVersions(bus);
  if (versions.screenCast === null) throw new PortalError('no-portal', 'this session has no xdg-desktop-portal ScreenCast: install xdg-desktop-portal and your desktop\'s backend (xdg-desktop-portal-gnome, -kde or -wlr), or choose another source');
  if (versions.screenCast < 4) throw new PortalError('too-old', `xdg-desktop-portal offers ScreenCast version ${versions.screenCast}; remembering the owner's approval needs version 4 (xdg-desktop-portal 1.12 or later)`);
  const withInput = options.input && versions.remoteDesktop !== null;
  const canPersist = !withInput || (versions.remoteDesktop ?? 0) >= 2;
  const requests = new Requests(bus);
  const sessionToken = requests.token('session');
  const sessionIface = withInput ? REMOTE_DESKTOP : SCREEN_CAST;
  let sessionHandle = requests.sessionPath(sessionToken);
  let closeSession = async () => {
    await bus.call(PORTAL, sessionHandle, 'org.freedesktop.portal.Session', 'Close').catch(() => undefined);
  };
  try {
    const created = await requests.call(sessionIface, 'CreateSession', 'a{sv}', [], { session_handle_token: new Variant('s', sessionToken) }, 30_000);
    const handle = created.session_handle?.value;
    if (typeof handle === 'string' && handle.startsWith('/')) sessionHandle = handle;
    const restoreToken = canPersist ? await tokens.read() : null;
    const sourceOptions: Record<string, Variant> = {
      types: new Variant('u', SOURCE_MONITOR),
      multiple: new Variant('b', false),
      cursor_mode: new Variant('u', CURSOR_EMBEDDED),
    };
    if (canPersist) sourceOptions.persist_mode = new Variant('u', PERSIST_UNTIL_REVOKED);
    if (restoreToken) sourceOptions.restore_token = new Variant('s', restoreToken);
    await requests.call(SCREEN_CAST, 'SelectSources', 'oa{sv}', [sessionHandle], sourceOptions, 30_000);
    if (withInput) await requests.call(REMOTE_DESKTOP, 'SelectDevices', 'oa{sv}', [sessionHandle], { types: new Variant('u', DEVICES_KEYBOARD_POINTER) }, 30_000);
    // Start is where the portal may show its dialog: say so while it is open
    options.onApproval?.(true);
    let started: Record<string, Variant>;
    try {
      started = await requests.call(sessionIface, 'Start', 'osa{sv}', [sessionHandle, ''], {}, APPROVAL_TIMEOUT_MS);
    } finally {
      options.onApproval?.(false);
    }
    const streams = started.streams?.value as [number, Record<string, Variant>][] | undefined;
    const first = streams?.[0];
    if (!first || typeof first[0] !== 'number') throw new PortalError('no-stream', 'the portal granted the share but named no stream');
    const newToken = started.restore_token?.value;
    if (typeof newToken === 'string') await tokens.write(newToken);
    else if (canPersist && restoreToken) await tokens.forget();
    const nodeId = first[0];
    const size = streamSize(first[1]?.size?.value);
    const ended = sessionEnded(bus, sessionHandle);
    const close = closeSession;
    closeSession = async () => undefined;
    return {
      kind: 'portal',
      nodeId,
      size,
      input: withInput && started.devices !== undefined ? portalInput(bus, sessionHandle, nodeId) : null,
      ended,
      close,
    };
  } catch (error) {
    await closeSession();
    throw portalCallError(error);
  }
}

function sessionEnded(bus: DbusClient, sessionHandle: string): Promise<string> {
  return new Promise((resolve) => {
    bus.once('closed', (reason: string) => resolve(`the portal's session bus went away (${reason}): the desktop session ended; start GPU Bridge in the new one`));
    void bus.onSignal({ sender: PORTAL, path: sessionHandle, interface: 'org.freedesktop.portal.Session', member: 'Closed' }, () => {
      resolve('the screen share was stopped on the workstation (the portal closed the session): start the session again to share again');
    }).catch(() => undefined);
  });
}

function portalInput(bus: DbusClient, session: string, stream: number): DesktopInput {
  const notify = (member: string, signature: string, args: unknown[]) => bus.call(PORTAL, PORTAL_PATH, REMOTE_DESKTOP, member, `oa{sv}${signature}`, [session, {}, ...args], 3000).then(() => undefined);
  return {
    pointerMotionAbsolute: (x, y) => notify('NotifyPointerMotionAbsolute', 'udd', [stream, x, y]),
    pointerButton: (button, pressed) => notify('NotifyPointerButton', 'iu', [button, pressed ? 1 : 0]),
    pointerAxisDiscrete: (axis, steps) => notify('NotifyPointerAxisDiscrete', 'ui', [axis, steps]),
    keyboardKeycode: (keycode, pressed) => notify('NotifyKeyboardKeycode', 'iu', [keycode, pressed ? 1 : 0]),
  };
}
