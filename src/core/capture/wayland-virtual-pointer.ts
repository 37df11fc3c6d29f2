import { connect, type Socket } from 'node:net';
import { fixed, int, listGlobals, message, string, uint, waylandSocketPath } from './wayland-wire';

/**
 * A virtual pointer on a wlroots compositor (zwlr_virtual_pointer_manager_v1), spoken over the Wayland
 * socket by a minimal client of our own: the protocol needs no file descriptors, so no native code. The
 * compositor adds the pointer to its seat for as long as we hold it. Coordinates are absolute within
 * `extent` (the compositor maps them onto its layout).
 */
const REGISTRY_ID = 2;
const CALLBACK_ID = 3;
const MANAGER_ID = 4;
const POINTER_ID = 5;
const MANAGER = 'zwlr_virtual_pointer_manager_v1';

export class VirtualPointer {
  private closed = false;
  private readonly started = Date.now();

  private constructor(private readonly socket: Socket) {
    socket.on('error', () => this.close());
    socket.on('close', () => (this.closed = true));
  }

  /** Connects to the compositor of `env` and creates the pointer; rejects when the compositor offers none. */
  static async open(env: NodeJS.ProcessEnv, timeoutMs = 3000): Promise<VirtualPointer> {
    const path = waylandSocketPath(env);
    const socket = connect(path);
    try {
      const globals = await listGlobals(socket, path, REGISTRY_ID, CALLBACK_ID, timeoutMs);
      const manager = globals.get(MANAGER);
      if (!manager) throw new Error(`this compositor offers no ${MANAGER} (not a wlroots compositor, or too old)`);
      // bind the manager, then create_virtual_pointer(seat: null = the default seat)
      socket.write(Buffer.concat([
        message(REGISTRY_ID, 0, [uint(manager.name), string(MANAGER), uint(1), uint(MANAGER_ID)]),
        message(MANAGER_ID, 0, [uint(0), uint(POINTER_ID)]),
      ]));
      return new VirtualPointer(socket);
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  private time(): number {
    return (Date.now() - this.started) >>> 0;
  }

  private send(...messages: Buffer[]): void {
    if (this.closed) throw new Error('the virtual pointer is gone (the compositor closed it)');
    this.socket.write(Buffer.concat([...messages, message(POINTER_ID, 4)]));
  }

  /** Moves to (x, y) within a surface of `width` × `height` (the desktop's size). */
  moveTo(x: number, y: number, width: number, height: number): void {
    const clamp = (value: number, extent: number) => Math.max(0, Math.min(extent - 1, Math.round(value)));
    this.send(message(POINTER_ID, 1, [uint(this.time()), uint(clamp(x, width)), uint(clamp(y, height)), uint(width), uint(height)]));
  }

  /** `button`: an evdev code (BTN_LEFT 0x110…). */
  button(button: number, pressed: boolean): void {
    this.send(message(POINTER_ID, 2, [uint(this.time()), uint(button), uint(pressed ? 1 : 0)]));
  }

  /** Wheel clicks: axis 0 vertical, 1 horizontal; positive down/right; 15 units a click, as libinput reports. */
  wheel(axis: 0 | 1, steps: number): void {
    this.send(message(POINTER_ID, 7, [uint(this.time()), uint(axis), fixed(steps * 15), int(steps)]));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(message(POINTER_ID, 8));
  }
}
