import { Socket } from 'node:net';
import { closeFd, connectUnixSocket, memoryFile, sendOnSocket } from './unix-socket-fds';
import { DISPLAY_ID, displayError, listGlobals, message, messageReader, string, uint, waylandSocketPath } from './wayland-wire';
import { XkbKeyboard, type Modifiers } from './xkb-keymap';

const REGISTRY_ID = 2;
const CALLBACK_ID = 3;
const SEAT_ID = 4;
const MANAGER_ID = 5;
const KEYBOARD_ID = 6;
const FIRST_SYNC_ID = 7;
const MANAGER = 'zwp_virtual_keyboard_manager_v1';
const WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1 = 1;

/**
 * A virtual keyboard on a wlroots compositor (zwp_virtual_keyboard_manager_v1), spoken over the Wayland
 * socket by a minimal client of our own. It is held for the whole session, as a plugged-in keyboard is:
 * keys are pressed and released when the peer presses and releases them (a game's W can be held), and
 * the seat's keyboard does not come and go under the desktop's windows with each key. The keymap (from
 * libxkbcommon, passed as a file descriptor) and the modifier state after each key are ours to report.
 */
export class VirtualKeyboard {
  private closed = false;
  private gone: string | null = null;
  private readonly started = Date.now();
  private readonly down = new Set<number>();
  private nextSync = FIRST_SYNC_ID;
  private readonly syncs = new Map<number, () => void>();

  private constructor(private readonly socket: Socket, private readonly fd: number, private readonly xkb: XkbKeyboard) {
    socket.on('data', messageReader(({ object, opcode, body }) => {
      if (object === DISPLAY_ID && opcode === 0) this.lose(`the compositor refused the virtual keyboard: ${displayError(body)}`);
      const sync = this.syncs.get(object);
      if (sync && opcode === 0) {
        this.syncs.delete(object);
        sync();
      }
    }, (why) => this.lose(why)));
    socket.on('error', (error) => this.lose(`the Wayland connection failed: ${error.message}`));
    socket.on('close', () => this.lose('the compositor closed the Wayland connection'));
  }

  /** Connects to the compositor of `env` and creates the keyboard; rejects with why when it cannot. */
  static async open(env: NodeJS.ProcessEnv, timeoutMs = 3000): Promise<VirtualKeyboard> {
    const path = waylandSocketPath(env);
    let fd: number;
    try {
      fd = connectUnixSocket(path);
    } catch (error) {
      throw new Error(`cannot reach the Wayland compositor at ${path}: ${(error as Error).message}`);
    }
    const socket = new Socket({ fd, readable: true, writable: true });
    let xkb: XkbKeyboard | null = null;
    try {
      const globals = await listGlobals(socket, path, REGISTRY_ID, CALLBACK_ID, timeoutMs);
      const manager = globals.get(MANAGER);
      const seat = globals.get('wl_seat');
      if (!manager) throw new Error(`this compositor offers no ${MANAGER} (not a wlroots compositor, or too old)`);
      if (!seat) throw new Error('this compositor has no seat to add a keyboard to');
      xkb = XkbKeyboard.fromDefaults();
      const keymap = Buffer.from(`${xkb.keymapText}\0`, 'utf8');
      const keymapFd = memoryFile('gpu-bridge-keymap', keymap);
      try {
        // from here on every write goes through sendmsg, in order, on the same descriptor
        sendOnSocket(fd, Buffer.concat([
          message(REGISTRY_ID, 0, [uint(seat.name), string('wl_seat'), uint(1), uint(SEAT_ID)]),
          message(REGISTRY_ID, 0, [uint(manager.name), string(MANAGER), uint(1), uint(MANAGER_ID)]),
          message(MANAGER_ID, 0, [uint(SEAT_ID), uint(KEYBOARD_ID)]),
          message(KEYBOARD_ID, 0, [uint(WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1), uint(keymap.length)]),
        ]), keymapFd);
      } finally {
        closeFd(keymapFd);
      }
      const keyboard = new VirtualKeyboard(socket, fd, xkb);
      await keyboard.roundtrip(timeoutMs);
      return keyboard;
    } catch (error) {
      xkb?.close();
      socket.destroy();
      throw error;
    }
  }

  /** Resolves once the compositor has handled everything sent before it (a wl_display.sync). */
  roundtrip(timeoutMs = 3000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.gone) return reject(new Error(this.gone));
      const id = this.nextSync++;
      const timer = setTimeout(() => {
        this.syncs.delete(id);
        reject(new Error(this.gone ?? `the compositor did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.syncs.set(id, () => {
        clearTimeout(timer);
        if (this.gone) reject(new Error(this.gone));
        else resolve();
      });
      this.send(message(DISPLAY_ID, 0, [uint(id)]));
    });
  }

  /** Keys held down now (evdev codes). */
  held(): number[] {
    return [...this.down];
  }

  /** Presses or releases `code` (an evdev code); a press of a held key or a release of a free one does nothing. */
  key(code: number, pressed: boolean): void {
    if (pressed === this.down.has(code)) return;
    const modifiers = this.xkb.key(code, pressed);
    if (pressed) this.down.add(code);
    else this.down.delete(code);
    const messages = [message(KEYBOARD_ID, 1, [uint(this.time()), uint(code), uint(pressed ? 1 : 0)])];
    if (modifiers) messages.push(modifiersMessage(modifiers));
    this.send(...messages);
  }

  /** Releases every held key, then removes the keyboard from the seat. */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.gone) {
        for (const code of [...this.down]) this.key(code, false);
        this.send(message(KEYBOARD_ID, 3));
      }
    } catch {
      // the compositor is gone or not reading: closing the connection removes the keyboard all the same
    }
    this.closed = true;
    this.xkb.close();
    this.socket.destroy();
  }

  private time(): number {
    return (Date.now() - this.started) >>> 0;
  }

  private send(...messages: Buffer[]): void {
    if (this.closed) throw new Error('the virtual keyboard is closed');
    if (this.gone) throw new Error(this.gone);
    sendOnSocket(this.fd, Buffer.concat(messages), null);
  }

  private lose(why: string): void {
    this.gone ??= why;
    for (const [id, settle] of this.syncs) {
      this.syncs.delete(id);
      settle();
    }
  }
}

function modifiersMessage({ depressed, latched, locked, group }: Modifiers): Buffer {
  return message(KEYBOARD_ID, 2, [uint(depressed), uint(latched), uint(locked), uint(group)]);
}
