import type { CaptureSource } from '../sessions/pipeline';
import { DbusClient, sessionBusAddress } from './dbus-client';
import type { ApprovalListener, DesktopCapture, DesktopInput } from './desktop-capture';
import { FrameFeed, type FrameReader } from './frame-feed';
import { openMutterCapture } from './mutter-capture';
import { pipewireFrameReader } from './pipewire-frames';
import { openPortalCapture } from './portal-capture';
import { RestoreTokenStore } from './restore-token-store';
import { wlrootsFrameReader } from './wlroots-frames';
import { swayOutput, wlrootsInput } from './wlroots-input';
import { SwayIpc } from './sway-ipc';
import { VirtualKeyboard } from './wayland-virtual-keyboard';
import { VirtualPointer } from './wayland-virtual-pointer';

export const CAPTURE_KINDS = ['x11', 'portal', 'gnome', 'wlroots', 'test'] as const;
export type CaptureKind = (typeof CAPTURE_KINDS)[number];

export const CAPTURE_LABELS: Record<CaptureKind, string> = {
  x11: 'X display',
  portal: 'screen share portal',
  gnome: 'GNOME screen cast (unattended)',
  wlroots: 'wlroots screencopy',
  test: 'test pattern',
};

export interface CaptureRequest {
  kind: CaptureKind;
  width: number;
  height: number;
  fps: number;
  /** x11: the display and the region's offset. */
  display?: string;
  x?: number;
  y?: number;
  /** wlroots: the output to capture (default: the only or focused one). */
  output?: string;
  /** Also open the desktop's input (portal and gnome: in the same session; sway: its IPC, a virtual pointer and keyboard). */
  input?: boolean;
}

export interface CaptureContext {
  env: NodeJS.ProcessEnv;
  configDir: string;
  onApproval?: ApprovalListener;
  /** How long the desktop may take to send its first frame. */
  firstFrameTimeoutMs?: number;
}

/** A capture ready for an encoder: what the pipeline reads, the feed that writes it, and the input that goes with it. */
export interface OpenedCapture {
  kind: CaptureKind;
  source: CaptureSource;
  label: string;
  feed: FrameFeed | null;
  /** Pointer and keyboard in the captured picture's pixels (scaled to the desktop's stream). */
  input: DesktopInput | null;
  /** The desktop's own size where it is known (the picture is scaled to the session's size). */
  desktopSize: { width: number; height: number } | null;
  close(): Promise<void>;
}

/** A capture that could not be opened: which source, what happened, what to do, in one sentence. */
export class CaptureError extends Error {}

function sourceSentence(kind: CaptureKind, message: string): string {
  return `${CAPTURE_LABELS[kind]}: ${message.replace(/\.$/, '')}`;
}

async function openFeed(kind: 'portal' | 'gnome' | 'wlroots', request: CaptureRequest, context: CaptureContext, startReader: () => FrameReader, captureEnded?: Promise<string>): Promise<FrameFeed> {
  const feed = new FrameFeed({ width: request.width, height: request.height, fps: request.fps, startReader, captureEnded, label: CAPTURE_LABELS[kind] });
  const timeoutMs = context.firstFrameTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  // the feed's own ending is already a whole sentence, its source named
  const outcome = await Promise.race([
    feed.firstFrame.then(() => null),
    new Promise<string>((resolve) => feed.once('ended', resolve)),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(sourceSentence(kind, `no frame came from the desktop in ${timeoutMs / 1000} s; check that the desktop session and PipeWire are running`)), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome !== null) {
    await feed.close();
    throw new CaptureError(outcome);
  }
  return feed;
}

/** Maps the picture's pixels to the desktop stream's (the picture is the stream scaled with borders kept). */
export function scaledInput(input: DesktopInput | null, picture: { width: number; height: number }, desktop: { width: number; height: number } | null): DesktopInput | null {
  if (!input || !desktop) return input;
  const scale = Math.min(picture.width / desktop.width, picture.height / desktop.height);
  const left = (picture.width - desktop.width * scale) / 2;
  const top = (picture.height - desktop.height * scale) / 2;
  return {
    ...input,
    pointerMotionAbsolute: (x, y) => input.pointerMotionAbsolute(Math.min(desktop.width - 1, Math.max(0, (x - left) / scale)), Math.min(desktop.height - 1, Math.max(0, (y - top) / scale))),
  };
}

async function openDesktop(kind: 'portal' | 'gnome', request: CaptureRequest, context: CaptureContext): Promise<OpenedCapture> {
  const address = sessionBusAddress(context.env);
  if (!address) throw new CaptureError(sourceSentence(kind, 'this process has no session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset); run GPU Bridge inside the desktop session'));
  let bus: DbusClient;
  try {
    bus = await DbusClient.connect(address);
  } catch (error) {
    throw new CaptureError(sourceSentence(kind, `${(error as Error).message}; run GPU Bridge inside the desktop session`));
  }
  let capture: DesktopCapture;
  try {
    capture = kind === 'portal'
      ? await openPortalCapture({ bus, tokens: new RestoreTokenStore(context.configDir), input: request.input ?? false, onApproval: context.onApproval })
      : await openMutterCapture(bus, { input: request.input ?? false });
  } catch (error) {
    bus.close();
    throw new CaptureError(sourceSentence(kind, (error as Error).message));
  }
  let feed: FrameFeed;
  try {
    feed = await openFeed(kind, request, context, () => pipewireFrameReader(capture.nodeId, request.width, request.height, context.env), capture.ended);
  } catch (error) {
    await capture.close();
    bus.close();
    throw error;
  }
  return {
    kind,
    source: { kind: 'frames', capture: kind, width: request.width, height: request.height },
    label: CAPTURE_LABELS[kind],
    feed,
    input: scaledInput(capture.input, request, capture.size),
    desktopSize: capture.size,
    close: async () => {
      await feed.close();
      await capture.close();
      bus.close();
    },
  };
}

/** The output's size on sway (its IPC); elsewhere the picture's own (a single output is assumed). */
async function wlrootsDesktopSize(request: CaptureRequest, env: NodeJS.ProcessEnv): Promise<{ width: number; height: number }> {
  if (!env.SWAYSOCK) return { width: request.width, height: request.height };
  const ipc = await SwayIpc.open(env.SWAYSOCK);
  try {
    const output = await swayOutput(ipc, request.output);
    return { width: output.rect.width, height: output.rect.height };
  } finally {
    ipc.close();
  }
}

/** wlroots: frames through wf-recorder; input through our virtual pointer and virtual keyboard. */
async function openWlroots(request: CaptureRequest, context: CaptureContext): Promise<OpenedCapture> {
  const { width, height } = request;
  let pointer: VirtualPointer | null = null;
  let keyboard: VirtualKeyboard | null = null;
  let input: DesktopInput | null = null;
  let desktopSize: { width: number; height: number } | null = null;
  const closeInput = () => {
    pointer?.close();
    keyboard?.close();
  };
  if (request.input) {
    try {
      desktopSize = await wlrootsDesktopSize(request, context.env);
      pointer = await VirtualPointer.open(context.env);
      keyboard = await VirtualKeyboard.open(context.env);
      input = wlrootsInput(pointer, keyboard, desktopSize);
    } catch (error) {
      closeInput();
      throw new CaptureError(sourceSentence('wlroots', `${(error as Error).message}; input needs a wlroots compositor with wlr-virtual-pointer and virtual-keyboard (sway 1.5+)`));
    }
  }
  let feed: FrameFeed;
  try {
    feed = await openFeed('wlroots', request, context, () => wlrootsFrameReader({ width, height, output: request.output, env: context.env }));
  } catch (error) {
    closeInput();
    throw error;
  }
  return {
    kind: 'wlroots', source: { kind: 'frames', capture: 'wlroots', width, height }, label: CAPTURE_LABELS.wlroots, feed,
    input: scaledInput(input, request, desktopSize), desktopSize,
    close: async () => {
      await feed.close();
      closeInput();
    },
  };
}

/** Opens the requested capture source; a CaptureError says which source failed, why and what to do. */
export async function openCapture(request: CaptureRequest, context: CaptureContext): Promise<OpenedCapture> {
  const { width, height } = request;
  switch (request.kind) {
    case 'x11': {
      if (!request.display) throw new CaptureError(sourceSentence('x11', 'no X display to capture (DISPLAY is not set); name one, e.g. :0'));
      return { kind: 'x11', source: { kind: 'x11', display: request.display, x: request.x ?? 0, y: request.y ?? 0, width, height }, label: `X display ${request.display}`, feed: null, input: null, desktopSize: null, close: async () => undefined };
    }
    case 'test':
      return { kind: 'test', source: { kind: 'test', width, height }, label: 'test pattern', feed: null, input: null, desktopSize: null, close: async () => undefined };
    case 'portal':
    case 'gnome':
      return openDesktop(request.kind, request, context);
    case 'wlroots':
      return openWlroots(request, context);
  }
}
