// A test-only xdg-desktop-portal backend (org.freedesktop.impl.portal.ScreenCast and .RemoteDesktop) that
// stands in for the consent dialog and nothing else: it answers each request as GB_PORTAL_ANSWER says
// (grant, cancel, deny), after GB_PORTAL_ANSWER_AFTER_MS, and fulfils a grant through Mutter's own ScreenCast and RemoteDesktop D-Bus APIs,
// the way GNOME's backend does. Every "dialog" it would have shown is appended to GB_PORTAL_LOG as a JSON
// line ({dialog: true}), and every session started from stored restore data as {dialog: false}, so a test
// sees whether a token was reused. Restore data named in GB_PORTAL_REVOKED (one id a line) is refused, as
// a revoked permission would be. Run by tests/helpers/wayland-rig.ts on the rig's session bus.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import * as dbus from '@jellybrick/dbus-next';

const { Interface } = dbus.interface;
const Variant = dbus.Variant;
const BUS_NAME = 'org.freedesktop.impl.portal.desktop.gpubridgetest';
const MUTTER_SC = 'org.gnome.Mutter.ScreenCast';
const MUTTER_RD = 'org.gnome.Mutter.RemoteDesktop';
const MONITOR = process.env.GB_PORTAL_MONITOR ?? 'Meta-0';

const bus = dbus.sessionBus();
const sessions = new Map();
let nextId = 1;

function log(entry) {
  if (process.env.GB_PORTAL_LOG) appendFileSync(process.env.GB_PORTAL_LOG, `${JSON.stringify({ t: Date.now(), ...entry })}\n`);
}

function answer() {
  return process.env.GB_PORTAL_ANSWER === 'cancel' ? 1 : process.env.GB_PORTAL_ANSWER === 'deny' ? 2 : 0;
}

function revoked(id) {
  const file = process.env.GB_PORTAL_REVOKED;
  return Boolean(file && existsSync(file) && readFileSync(file, 'utf8').split('\n').includes(id));
}

/**
 * @jellybrick/dbus-next 0.11's Interface constructor defines $methods, $properties and $signals as own
 * fields, which hide what configureMembers put on the prototype: give each instance its class's members.
 */
function adopt(instance) {
  const proto = Object.getPrototypeOf(instance);
  instance.$methods = proto.$methods;
  instance.$properties = proto.$properties;
  instance.$signals = proto.$signals;
}

async function iface(service, path, name) {
  return (await bus.getProxyObject(service, path)).getInterface(name);
}

class ImplSession extends Interface {
  constructor(path) {
    super('org.freedesktop.impl.portal.Session');
    adopt(this);
    this.path = path;
  }
  async Close() {
    await closeSession(this.path);
  }
  Closed() {
    return undefined;
  }
}
ImplSession.configureMembers({ methods: { Close: { inSignature: '', outSignature: '' } }, signals: { Closed: { signature: '' } } });

async function closeSession(path) {
  const session = sessions.get(path);
  if (!session) return;
  sessions.delete(path);
  try {
    if (session.mutterRd) await session.mutterRd.Stop();
    else if (session.mutterSc) await session.mutterSc.Stop();
  } catch {
    // mutter already ended it
  }
  session.exported.Closed();
  bus.unexport(path);
  log({ closed: path });
}

function createSession(sessionHandle, kind) {
  const exported = new ImplSession(sessionHandle);
  bus.export(sessionHandle, exported);
  sessions.set(sessionHandle, { kind, exported, cursorMode: 2, restoreId: null, mutterSc: null, mutterRd: null, streamPath: null });
  return [0, {}];
}

/** Starts the capture (and, for a remote desktop session, the input) through Mutter; returns the portal's streams. */
async function startThroughMutter(session) {
  const screenCast = await iface(MUTTER_SC, '/org/gnome/Mutter/ScreenCast', MUTTER_SC);
  let scOptions = {};
  if (session.kind === 'remote-desktop') {
    const rd = await iface(MUTTER_RD, '/org/gnome/Mutter/RemoteDesktop', MUTTER_RD);
    const rdPath = await rd.CreateSession();
    session.mutterRd = await iface(MUTTER_RD, rdPath, `${MUTTER_RD}.Session`);
    const props = await iface(MUTTER_RD, rdPath, 'org.freedesktop.DBus.Properties');
    const id = (await props.Get(`${MUTTER_RD}.Session`, 'SessionId')).value;
    scOptions = { 'remote-desktop-session-id': new Variant('s', id) };
  }
  const scPath = await screenCast.CreateSession(scOptions);
  session.mutterSc = await iface(MUTTER_SC, scPath, `${MUTTER_SC}.Session`);
  // portal cursor modes: 1 hidden, 2 embedded, 4 metadata; Mutter's: 0 hidden, 1 embedded, 2 metadata
  const cursorMode = session.cursorMode === 1 ? 0 : session.cursorMode === 4 ? 2 : 1;
  session.streamPath = await session.mutterSc.RecordMonitor(MONITOR, { 'cursor-mode': new Variant('u', cursorMode) });
  const stream = await iface(MUTTER_SC, session.streamPath, `${MUTTER_SC}.Stream`);
  const streamProps = await iface(MUTTER_SC, session.streamPath, 'org.freedesktop.DBus.Properties');
  const node = new Promise((resolve) => stream.on('PipeWireStreamAdded', resolve));
  if (session.mutterRd) await session.mutterRd.Start();
  else await session.mutterSc.Start();
  const nodeId = await node;
  const parameters = (await streamProps.Get(`${MUTTER_SC}.Stream`, 'Parameters')).value;
  const size = parameters.size?.value ?? [0, 0];
  return [[nodeId, { size: new Variant('(ii)', size), position: new Variant('(ii)', [0, 0]), source_type: new Variant('u', 1) }]];
}

async function start(sessionHandle, options) {
  const session = sessions.get(sessionHandle);
  if (!session) return [2, {}];
  const restore = session.restoreData ?? options.restore_data?.value;
  const restoreId = restore && restore[0] === 'gpu-bridge-test' ? restore[2]?.value : null;
  const fromRestore = typeof restoreId === 'string' && !revoked(restoreId);
  if (!fromRestore) {
    log({ dialog: true, kind: session.kind, answer: process.env.GB_PORTAL_ANSWER ?? 'grant' });
    // a person takes a moment to answer
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.GB_PORTAL_ANSWER_AFTER_MS ?? 0)));
    if (answer() !== 0) return [answer(), {}];
  } else {
    log({ dialog: false, kind: session.kind, restoreId });
  }
  const id = fromRestore ? restoreId : `grant-${process.pid}-${nextId++}`;
  if (!fromRestore) log({ granted: id });
  const streams = await startThroughMutter(session);
  const results = { streams: new Variant('a(ua{sv})', streams) };
  if (session.persistMode) {
    results.persist_mode = new Variant('u', session.persistMode);
    results.restore_data = new Variant('(suv)', ['gpu-bridge-test', 1, new Variant('s', id)]);
  }
  if (session.kind === 'remote-desktop') results.devices = new Variant('u', 3);
  return [0, results];
}

class ScreenCast extends Interface {
  constructor() {
    super('org.freedesktop.impl.portal.ScreenCast');
    adopt(this);
  }
  get AvailableSourceTypes() {
    return 1;
  }
  get AvailableCursorModes() {
    return 7;
  }
  get version() {
    return 4;
  }
  CreateSession(_handle, sessionHandle) {
    return createSession(sessionHandle, 'screencast');
  }
  SelectSources(_handle, sessionHandle, _appId, options) {
    const session = sessions.get(sessionHandle);
    if (!session) return [2, {}];
    session.cursorMode = options.cursor_mode?.value ?? 2;
    session.persistMode = options.persist_mode?.value ?? 0;
    // the frontend looks the client's restore token up and hands its stored data to SelectSources
    session.restoreData = options.restore_data?.value ?? null;
    return [0, {}];
  }
  Start(_handle, sessionHandle, _appId, _parent, options) {
    return start(sessionHandle, options);
  }
}
ScreenCast.configureMembers({
  properties: { AvailableSourceTypes: { signature: 'u', access: 'read' }, AvailableCursorModes: { signature: 'u', access: 'read' }, version: { signature: 'u', access: 'read' } },
  methods: {
    CreateSession: { inSignature: 'oosa{sv}', outSignature: 'ua{sv}' },
    SelectSources: { inSignature: 'oosa{sv}', outSignature: 'ua{sv}' },
    Start: { inSignature: 'oossa{sv}', outSignature: 'ua{sv}' },
  },
});

function mutterRd(sessionHandle) {
  const session = sessions.get(sessionHandle);
  if (!session?.mutterRd) throw new dbus.DBusError('org.freedesktop.DBus.Error.Failed', 'no started remote desktop session');
  return session;
}

class RemoteDesktop extends Interface {
  constructor() {
    super('org.freedesktop.impl.portal.RemoteDesktop');
    adopt(this);
  }
  get AvailableDeviceTypes() {
    return 3;
  }
  get version() {
    return 1;
  }
  CreateSession(_handle, sessionHandle) {
    return createSession(sessionHandle, 'remote-desktop');
  }
  SelectDevices() {
    return [0, {}];
  }
  Start(_handle, sessionHandle, _appId, _parent, options) {
    return start(sessionHandle, options);
  }
  async NotifyPointerMotionAbsolute(sessionHandle, _options, _stream, x, y) {
    const session = mutterRd(sessionHandle);
    await session.mutterRd.NotifyPointerMotionAbsolute(session.streamPath, x, y);
  }
  async NotifyPointerButton(sessionHandle, _options, button, state) {
    await mutterRd(sessionHandle).mutterRd.NotifyPointerButton(button, state === 1);
  }
  async NotifyPointerAxisDiscrete(sessionHandle, _options, axis, steps) {
    await mutterRd(sessionHandle).mutterRd.NotifyPointerAxisDiscrete(axis, steps);
  }
  async NotifyKeyboardKeycode(sessionHandle, _options, keycode, state) {
    await mutterRd(sessionHandle).mutterRd.NotifyKeyboardKeycode(keycode, state === 1);
  }
}
RemoteDesktop.configureMembers({
  properties: { AvailableDeviceTypes: { signature: 'u', access: 'read' }, version: { signature: 'u', access: 'read' } },
  methods: {
    CreateSession: { inSignature: 'oosa{sv}', outSignature: 'ua{sv}' },
    SelectDevices: { inSignature: 'oosa{sv}', outSignature: 'ua{sv}' },
    Start: { inSignature: 'oossa{sv}', outSignature: 'ua{sv}' },
    NotifyPointerMotionAbsolute: { inSignature: 'oa{sv}udd', outSignature: '' },
    NotifyPointerButton: { inSignature: 'oa{sv}iu', outSignature: '' },
    NotifyPointerAxisDiscrete: { inSignature: 'oa{sv}ui', outSignature: '' },
    NotifyKeyboardKeycode: { inSignature: 'oa{sv}iu', outSignature: '' },
  },
});

bus.export('/org/freedesktop/portal/desktop', new ScreenCast());
bus.export('/org/freedesktop/portal/desktop', new RemoteDesktop());
await bus.requestName(BUS_NAME, 0);
console.log('portal-test-backend: ready');
