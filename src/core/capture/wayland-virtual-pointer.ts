import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

/**
 * A virtual pointer on a wlroots compositor (zwlr_virtual_pointer_manager_v1), spoken over the Wayland
 * socket by a minimal client of our own: the protocol needs no file descriptors, so no native code. The
 * compositor adds the pointer to its seat for as long as we hold it. Coordinates are absolute within
 * `extent` (the compositor maps them onto its layout).
 */
const DISPLAY_ID = 1;
const REGISTRY_ID = 2;
const CALLBACK_ID = 3;
const MANAGER_ID = 4;
const POINTER_ID = 5;
const MANAGER = 'zwlr_virtual_pointer_manager_v1';

function message(object: number, opcode: number, args: Buffer[] = []): Buffer {
  const body = Buffer.concat(args);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(object, 0);
  header.writeUInt32LE(((8 + body.length) << 16) | opcode, 4);
  return Buffer.concat([header, body]);
}

function uint(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0, 0);
  return buffer;
}

function int(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value, 0);
  return buffer;
}

/** wl_fixed: a signed 24.8 fixed-point number. */
function fixed(value: number): Buffer {
  return int(Math.round(value * 256));
}

function string(text: string): Buffer {
  const bytes = Buffer.from(`${text}\0`, 'utf8');
  const padded = Buffer.alloc(4 + Math.ceil(bytes.length / 4) * 4);
  padded.writeUInt32LE(bytes.length, 0);
  bytes.copy(padded, 4);
  return padded;
}

function readString(buffer: Buffer, offset: number): { text: string; next: number } {
  const length = buffer.readUInt32LE(offset);
  const text = buffer.subarray(offset + 4, offset + 4 + Math.max(0, length - 1)).toString('utf8');
  return { text, next: offset + 4 + Math.ceil(length / 4) * 4 };
}

export class VirtualPointer {
  private closed = false;
  private readonly started = Date.now();

  private constructor(private readonly socket: Socket) {
    socket.on('error', () => this.close());
    socket.on('close', () => (this.closed = true));
  }

  /** Connects to the compositor of `env` and creates the pointer; rejects when the compositor offers none. */
  static open(env: NodeJS.ProcessEnv, timeoutMs = 3000): Promise<VirtualPointer> {
    const display = env.WAYLAND_DISPLAY || 'wayland-0';
    const path = display.startsWith('/') ? display : join(env.XDG_RUNTIME_DIR ?? '', display);
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      let buffer = Buffer.alloc(0);
      let managerName: number | null = null;
      let managerVersion = 1;
      const timer = setTimeout(() => fail(`the compositor at ${path} did not answer in ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(why));
      };
      socket.once('error', (error) => fail(`cannot reach the Wayland compositor at ${path}: ${error.message}`));
      socket.once('connect', () => {
        // get_registry, then a sync: its done event comes after every global has been announced
        socket.write(Buffer.concat([message(DISPLAY_ID, 1, [uint(REGISTRY_ID)]), message(DISPLAY_ID, 0, [uint(CALLBACK_ID)])]));
      });
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 8) {
          const object = buffer.readUInt32LE(0);
          const sizeOpcode = buffer.readUInt32LE(4);
          const size = sizeOpcode >>> 16;
          const opcode = sizeOpcode & 0xffff;
          if (size < 8) return fail('the compositor sent a malformed Wayland message');
          if (buffer.length < size) return;
          const body = buffer.subarray(8, size);
          buffer = buffer.subarray(size);
          if (object === DISPLAY_ID && opcode === 0) {
            const { text } = readString(body, 8);
            return fail(`the compositor refused: ${text}`);
          }
          if (object === REGISTRY_ID && opcode === 0) {
            const name = body.readUInt32LE(0);
            const { text, next } = readString(body, 4);
            if (text === MANAGER) {
              managerName = name;
              managerVersion = Math.min(1, body.readUInt32LE(next));
            }
          }
          if (object === CALLBACK_ID && opcode === 0) {
            clearTimeout(timer);
            socket.removeAllListeners('data');
            socket.removeAllListeners('error');
            if (managerName === null) return fail(`this compositor offers no ${MANAGER} (not a wlroots compositor, or too old)`);
            // bind the manager, then create_virtual_pointer(seat: null = the default seat)
            socket.write(Buffer.concat([
              message(REGISTRY_ID, 0, [uint(managerName), string(MANAGER), uint(managerVersion), uint(MANAGER_ID)]),
              message(MANAGER_ID, 0, [uint(0), uint(POINTER_ID)]),
            ]));
            resolve(new VirtualPointer(socket));
            return;
          }
        }
      });
    });
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
