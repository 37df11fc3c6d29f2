import { EventEmitter } from 'node:events';
import { RtpTransport } from '../../../src/core/rtp/rtp-transport';
import type { EncoderRuns } from '../../../src/core/sessions/sender-transport';
import type { OpenRequest, RtpViewerSink, ViewerLink } from '../../../src/core/sessions/viewer-link';

/** Stand-in for the WebRTC viewer's sender (the real one is tested over werift in tests/integration/webrtc-media-sender.test.ts). */
class RecordingSink extends EventEmitter implements RtpViewerSink {
  readonly packets: number[] = [];
  closed = false;
  readonly rttMs = 3;
  packet(_payload: Buffer, _marker: boolean, _frameStart: boolean, timestamp: number): void {
    this.packets.push(timestamp);
  }
  close(): void {
    this.closed = true;
  }
}

class SinkViewer extends EventEmitter implements ViewerLink {
  readonly name = 'browser';
  readonly sink = new RecordingSink();
  opened: OpenRequest | null = null;
  async open(request: OpenRequest): Promise<{ host: string; port: number }> {
    this.opened = request;
    throw new Error('a viewer with its own sink is never asked to open a receiver');
  }
  async rtpSink(): Promise<RtpViewerSink> {
    return this.sink;
  }
  async close(): Promise<void> {}
  clock() {
    return { offsetMs: 0, rttMs: 1 };
  }
}

describe('the rtp transport and a viewer that carries RTP itself (rtpSink, a browser over WebRTC)', () => {
  it('hands the viewer\'s own sender to the fan-out, passes its keyframe requests on, closes it when the viewer leaves', async () => {
    const transport = new RtpTransport();
    const viewer = new SinkViewer();
    const runs = { shape: { codec: 'h264', width: 320, height: 240, fps: 30 } } as unknown as EncoderRuns;
    // no encoder run yet: the session is told to launch one
    expect(await transport.addViewer(viewer, runs)).toBe('launch');
    expect(viewer.opened).toBeNull();
    expect(transport.rttMs('browser')).toBe(3);
    let keyframes = 0;
    transport.on('keyframe', () => (keyframes += 1));
    viewer.sink.emit('keyframe');
    expect(keyframes).toBe(1);
    transport.removeViewer('browser');
    expect(viewer.sink.closed).toBe(true);
    transport.close();
  });
});
