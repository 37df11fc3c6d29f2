/**
 * A granted screen capture on a Wayland desktop: the PipeWire node its frames come from and, when
 * asked for, the remote-desktop input of the same session. Made by the portal (`portal-capture.ts`) or
 * by Mutter's own API (`mutter-capture.ts`); read by `pipewire-frames.ts`.
 */
export interface DesktopCapture {
  readonly kind: 'portal' | 'gnome';
  /** The PipeWire node carrying the monitor's frames. */
  readonly nodeId: number;
  /** The stream's size in the compositor's logical pixels, where the compositor said. */
  readonly size: { width: number; height: number } | null;
  /** Pointer and keyboard into the same session (null: not asked for or not granted). */
  readonly input: DesktopInput | null;
  /** Resolves with a sentence when the desktop ends the capture (share stopped, compositor gone, bus gone). */
  readonly ended: Promise<string>;
  close(): Promise<void>;
}

/** Input in the stream's coordinates and Linux evdev codes (linux/input-event-codes.h). */
export interface DesktopInput {
  pointerMotionAbsolute(x: number, y: number): Promise<void>;
  /** `button`: BTN_LEFT (0x110), BTN_RIGHT, BTN_MIDDLE. */
  pointerButton(button: number, pressed: boolean): Promise<void>;
  /** `axis`: 0 vertical, 1 horizontal; `steps`: wheel clicks, positive down/right. */
  pointerAxisDiscrete(axis: 0 | 1, steps: number): Promise<void>;
  keyboardKeycode(keycode: number, pressed: boolean): Promise<void>;
}

/** Called while the owner's consent dialog is open (the UI says to approve the share on the workstation). */
export type ApprovalListener = (waiting: boolean) => void;

export function streamSize(value: unknown): { width: number; height: number } | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [width, height] = value as unknown[];
  if (typeof width !== 'number' || typeof height !== 'number' || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width > 16384 || height > 16384) return null;
  return { width, height };
}
