import { spawnSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { liveChildren } from '../../src/core/sessions/child-process';
import { Receiver } from '../../src/core/sessions/receiver';
import { StreamSession } from '../../src/core/sessions/stream-session';
import type { OpenRequest, ViewerLink } from '../../src/core/sessions/viewer-link';
import type { DecodedFrame } from '../../src/core/sessions/stamp-reader';
import { receiverInput } from '../../src/core/sessions/transport-rooms';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;

/**
 * An rtp viewer on loopback (its receiver in this process) whose transport reports 10% of packets lost
 * each second: the bitrate steps down at the first second the controller may, with no real loss (so no
 * keyframe request takes the run started ahead first).
 */
class LossReportingViewer extends EventEmitter implements ViewerLink {
  readonly name = 'lossy viewer';
  private receiver: Receiver | null = null;
  private readonly timer = setInterval(() => this.emit('link-stats', { received: 90, lost: 10 }), 1000);

  async open(request: OpenRequest): Promise<{ host: string; port: number }> {
    this.receiver = new Receiver({ input: receiverInput(request, { listen: '127.0.0.1' }), display: false });
    this.receiver.on('frame', (frame: DecodedFrame) => this.emit('frames', [frame]));
    return { host: '127.0.0.1', port: await this.receiver.start() };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.receiver?.stop();
  }

  clock() {
    return { offsetMs: 0, rttMs: 1 };
  }
}

describe.skipIf(!hasFfmpeg)('stopping an rtp session', () => {
  it('right after a bitrate step made the run started ahead stale, leaves no media process behind', async () => {
    const viewer = new LossReportingViewer();
    const session = new StreamSession({ source: { kind: 'test', width: 320, height: 240 }, fps: 30, bitrateKbps: 1000, encoder: 'libx264', adaptive: true, transport: 'rtp' });
    try {
      let liveAtStep = 0;
      session.once('bitrate', () => (liveAtStep = liveChildren()));
      await session.addViewer(viewer);
      await once(session, 'bitrate');
      expect(liveAtStep, 'the encoder, the run started ahead and the viewer\'s decoder').toBe(3);
      // the step has already thrown away the run waiting at its gate (made for the old bitrate)
      await session.stop();
      await viewer.close();
      expect(liveChildren()).toBe(0);
    } finally {
      await session.stop();
      await viewer.close();
    }
  }, 30_000);
});
