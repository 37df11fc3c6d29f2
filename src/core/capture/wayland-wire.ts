import type { Socket } from 'node:net';
import { join } from 'node:path';

/** The Wayland wire format (little-endian on the machines we run on): a message and its argument types. */
export const DISPLAY_ID = 1;

export function message(object: number, opcode: number, args: Buffer[] = []): Buffer {
  const body = Buffer.concat(args);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(object, 0);
  header.writeUInt32LE(((8 + body.length) << 16) | opcode, 4);
  return Buffer.concat([header, body]);
}

export function uint(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0, 0);
  return buffer;
}

export function int(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value, 0);
  return buffer;
}

/** wl_fixed: a signed 24.8 fixed-point number. */
export function fixed(value: number): Buffer {
  return int(Math.round(value * 256));
}

export function string(text: string): Buffer {
  const bytes = Buffer.from(`${text}\0`, 'utf8');
  const padded = Buffer.alloc(4 + Math.ceil(bytes.length / 4) * 4);
  padded.writeUInt32LE(bytes.length, 0);
  bytes.copy(padded, 4);
  return padded;
}

export function readString(buffer: Buffer, offset: number): { text: string; next: number } {
  const length = buffer.readUInt32LE(offset);
  const text = buffer.subarray(offset + 4, offset + 4 + Math.max(0, length - 1)).toString('utf8');
  return { text, next: offset + 4 + Math.ceil(length / 4) * 4 };
}

/** The compositor's socket for `env` (WAYLAND_DISPLAY, a name under XDG_RUNTIME_DIR or an absolute path). */
export function waylandSocketPath(env: NodeJS.ProcessEnv): string {
  const display = env.WAYLAND_DISPLAY || 'wayland-0';
  return display.startsWith('/') ? display : join(env.XDG_RUNTIME_DIR ?? '', display);
}

export interface WaylandMessage {
  object: number;
  opcode: number;
  body: Buffer;
}

/** Cuts a byte stream into messages; `onError` gets a sentence for a malformed one (the stream is then useless). */
export function messageReader(onMessage: (message: WaylandMessage) => void, onError: (why: string) => void): (chunk: Buffer) => void {
  let buffer: Buffer = Buffer.alloc(0);
  let broken = false;
  return (chunk) => {
    if (broken) return;
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (buffer.length >= 8) {
      const sizeOpcode = buffer.readUInt32LE(4);
      const size = sizeOpcode >>> 16;
      if (size < 8) {
        broken = true;
        onError('the compositor sent a malformed Wayland message');
        return;
      }
      if (buffer.length < size) return;
      const found = { object: buffer.readUInt32LE(0), opcode: sizeOpcode & 0xffff, body: buffer.subarray(8, size) };
      buffer = buffer.subarray(size);
      onMessage(found);
    }
  };
}

/** The text of a wl_display.error event's body (object id, code, message). */
export function displayError(body: Buffer): string {
  return readString(body, 8).text;
}

export interface Global {
  name: number;
  version: number;
}

/**
 * The compositor's globals by interface name: get_registry (as `registryId`), then a sync (as
 * `callbackId`), whose done event comes after every global has been announced. Rejects on a display
 * error, a malformed message, a closed socket or `timeoutMs` with no answer. Leaves no listener behind.
 */
export function listGlobals(socket: Socket, path: string, registryId: number, callbackId: number, timeoutMs: number): Promise<Map<string, Global>> {
  return new Promise((resolve, reject) => {
    const globals = new Map<string, Global>();
    const done = (error: Error | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onSocketError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(globals);
    };
    const onData = messageReader(({ object, opcode, body }) => {
      if (object === DISPLAY_ID && opcode === 0) return done(new Error(`the compositor refused: ${displayError(body)}`));
      if (object === registryId && opcode === 0) {
        const name = body.readUInt32LE(0);
        const { text, next } = readString(body, 4);
        globals.set(text, { name, version: body.readUInt32LE(next) });
      }
      if (object === callbackId && opcode === 0) done(null);
    }, (why) => done(new Error(why)));
    const onSocketError = (error: Error) => done(new Error(`cannot reach the Wayland compositor at ${path}: ${error.message}`));
    const onClose = () => done(new Error(`the Wayland compositor at ${path} closed the connection`));
    const timer = setTimeout(() => done(new Error(`the compositor at ${path} did not answer in ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onSocketError);
    socket.on('close', onClose);
    socket.write(Buffer.concat([message(DISPLAY_ID, 1, [uint(registryId)]), message(DISPLAY_ID, 0, [uint(callbackId)])]));
  });
}
