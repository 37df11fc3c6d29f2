import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { StreamSession } from '../../../src/core/sessions/stream-session';
import type { OpenRequest, ViewerLink } from '../../../src/core/sessions/viewer-link';
import { TRANSPORT_NAMES } from '../../../src/shared/transports';

const udpHandles = () => process.getActiveResourcesInfo().filter((name) => name === 'UDPWrap').length;

/** A viewer whose receiver opens only when told (a real UDP socket on loopback), so the session can be stopped meanwhile. */
class SlowViewer extends EventEmitter implements ViewerLink {
  readonly name = 'slow viewer';
  readonly socket = createSocket('udp4');
  readonly closed: string[] = [];
  opened: OpenRequest | null = null;
  private release: () => void = () => undefined;
  readonly asked = new Promise<void>((resolve) => this.once('asked', resolve));

  async open(request: OpenRequest): Promise<{ host: string; port: number; passphrase?: string }> {
    this.opened = request;
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.emit('asked');
    await new Promise<void>((resolve) => (this.release = resolve));
    return { host: '127.0.0.1', port: this.socket.address().port };
  }

  answer(): void {
    this.release();
  }

  async close(streamId: string): Promise<void> {
    this.closed.push(streamId);
  }

  clock() {
    return { offsetMs: 0, rttMs: 1 };
  }
}

describe('a session stopped while its viewer is opening its receiver', () => {
  it.each(TRANSPORT_NAMES)('over %s leaves no socket open and closes the stream it opened at the viewer', async (transport) => {
    const before = udpHandles();
    const viewer = new SlowViewer();
    // no encoder runs here: the session ends before any launch gets that far
    const session = new StreamSession({ source: { kind: 'test', width: 320, height: 240 }, fps: 30, bitrateKbps: 1000, encoder: 'libx264', transport, ffmpeg: '/nonexistent/ffmpeg' });
    const adding = session.addViewer(viewer);
    await viewer.asked;
    await session.stop('stopped while opening');
    viewer.answer();
    await adding;
    await new Promise((resolve) => setTimeout(resolve, 50));
    viewer.socket.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(session.state).toBe('stopped');
    expect(udpHandles(), 'UDP sockets still open after the session ended').toBe(before);
    // the receiver the viewer opened for this stream is told the stream is over
    expect(viewer.closed).toContain(viewer.opened!.streamId);
  });
});
