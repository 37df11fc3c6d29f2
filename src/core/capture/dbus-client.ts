import { EventEmitter } from 'node:events';
import { Message, MessageType, sessionBus, type MessageBus } from '@jellybrick/dbus-next';

export { Variant } from '@jellybrick/dbus-next';

export interface SignalMatch {
  /** A bus name: the bus filters on it (signals carry the sender's unique name, so no check here). */
  sender?: string;
  path?: string;
  interface: string;
  member: string;
}

/** A D-Bus error reply, with the error's name kept (e.g. org.freedesktop.DBus.Error.ServiceUnknown). */
export class DbusCallError extends Error {
  constructor(readonly dbusName: string, message: string) {
    super(message);
  }
}

function matchRule(match: SignalMatch): string {
  const parts = [`type='signal'`, `interface='${match.interface}'`, `member='${match.member}'`];
  if (match.sender) parts.push(`sender='${match.sender}'`);
  if (match.path) parts.push(`path='${match.path}'`);
  return parts.join(',');
}

/**
 * The session bus, as the capture sources use it: typed method calls with a timeout, signal
 * subscriptions by match rule, and one 'closed' event when the bus goes away (the desktop session
 * ended or its bus daemon died). No introspection round trips: every call names its signature.
 */
export class DbusClient extends EventEmitter {
  private closed = false;

  private constructor(private readonly bus: MessageBus) {
    super();
    bus.on('message', (message: Message) => this.emit('message', message));
    // the library emits 'error' on the bus, though its types list only 'connect' and 'message'
    (bus as unknown as EventEmitter).on('error', (error: Error) => this.end(`the session bus failed: ${error.message}`));
    (bus as unknown as { _connection: EventEmitter })._connection.on('end', () => this.end('the session bus closed the connection'));
  }

  /** Connects to the bus at `address` (a D-Bus address, e.g. unix:path=/run/user/1000/bus). */
  static connect(address: string, timeoutMs = 3000): Promise<DbusClient> {
    return new Promise((resolve, reject) => {
      let bus: MessageBus;
      try {
        bus = sessionBus({ busAddress: address });
      } catch (error) {
        reject(new Error(`cannot reach the session bus at ${address}: ${(error as Error).message}`));
        return;
      }
      const timer = setTimeout(() => fail(new Error(`the session bus at ${address} did not answer in ${timeoutMs} ms`)), timeoutMs);
      const events = () => bus as unknown as EventEmitter;
      const fail = (error: Error) => {
        clearTimeout(timer);
        events().removeAllListeners();
        events().on('error', () => undefined);
        try {
          bus.disconnect();
        } catch {
          // never connected
        }
        reject(new Error(`cannot use the session bus at ${address}: ${error.message}`));
      };
      events().once('error', fail);
      bus.once('connect', () => {
        clearTimeout(timer);
        events().off('error', fail);
        resolve(new DbusClient(bus));
      });
    });
  }

  /** Our unique name on the bus (":1.42"). */
  get uniqueName(): string {
    return this.bus.name ?? '';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async call(destination: string, path: string, iface: string, member: string, signature = '', body: unknown[] = [], timeoutMs = 10_000): Promise<unknown[]> {
    if (this.closed) throw new Error('the session bus is gone');
    const message = new Message({ destination, path, interface: iface, member, signature, body });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${iface}.${member} on ${destination} did not answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const reply = await Promise.race([this.bus.call(message), timeout]);
      return reply?.body ?? [];
    } catch (error) {
      const dbusError = error as { type?: string; text?: string; message?: string };
      if (dbusError.type) throw new DbusCallError(dbusError.type, dbusError.text ?? dbusError.message ?? dbusError.type);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async getProperty(destination: string, path: string, iface: string, name: string): Promise<unknown> {
    const [variant] = await this.call(destination, path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name]);
    return (variant as { value: unknown }).value;
  }

  /** Calls `handler` with each matching signal's body; resolves once the bus routes them to us. */
  async onSignal(match: SignalMatch, handler: (body: unknown[], message: Message) => void): Promise<() => void> {
    const rule = matchRule(match);
    await this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', [rule]);
    const listener = (message: Message) => {
      if (message.type !== MessageType.SIGNAL || message.interface !== match.interface || message.member !== match.member) return;
      if (match.path && message.path !== match.path) return;
      handler(message.body, message);
    };
    this.on('message', listener);
    return () => {
      this.off('message', listener);
      if (!this.closed) void this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RemoveMatch', 's', [rule]).catch(() => undefined);
    };
  }

  /** Whether a name has an owner on the bus (a service is running). */
  async hasOwner(name: string): Promise<boolean> {
    const [has] = await this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner', 's', [name], 3000);
    return has === true;
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('closed', reason);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
  }
}

/** The session bus address from the environment, or null when this process has none. */
export function sessionBusAddress(env: NodeJS.ProcessEnv): string | null {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
  return null;
}
