import type { SessionSource } from '../../shared/contract/sessions';
import { CaptureError, type CaptureRequest } from './open-capture';

/**
 * What to open for a session's source: the portal and gnome sources open the desktop's input in the
 * same session when the peer may send input; gnome only once the owner has allowed unattended sharing.
 */
export function captureRequestFor(source: SessionSource, picture: { width: number; height: number; fps: number }, options: { input: boolean; unattendedGnome: boolean }): CaptureRequest {
  const { width, height, fps } = picture;
  switch (source.kind) {
    case 'x11':
      return { kind: 'x11', width, height, fps, display: source.display, x: source.x, y: source.y };
    case 'wlroots':
      return { kind: 'wlroots', width, height, fps, output: source.output, input: options.input };
    case 'gnome':
      if (!options.unattendedGnome) {
        throw new CaptureError('GNOME screen cast (unattended): unattended sharing is off; it shares the screen without asking, so the owner turns it on first (Sessions page, or `gpu-bridge session unattended on`), or choose the portal source');
      }
      return { kind: 'gnome', width, height, fps, input: options.input };
    case 'portal':
      return { kind: 'portal', width, height, fps, input: options.input };
    case 'test':
      return { kind: 'test', width, height, fps };
  }
}
