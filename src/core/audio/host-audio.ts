import { EventEmitter } from 'node:events';
import { preciseNow } from '../pairing/channel';
import { AudioCapture, type CapturedFrame } from './audio-capture';
import { AudioStages } from './audio-stages';
import { OpusEncoder } from './opus-lib';
import { probeSoundServer, type SoundServer } from './sound-server';

export interface EncodedAudio {
  payload: Buffer;
  capturedAt: number;
}

/**
 * The host's sound for one session: the default output's monitor captured, each 10 ms frame encoded
 * to Opus with in-band FEC once, and the packet handed to every viewer's sender ('packet'). 'ended'
 * (reason) when the capture stops by itself; the video goes on without sound.
 */
export class HostAudio extends EventEmitter {
  private readonly encoder: OpusEncoder;
  private readonly capture: AudioCapture;
  private readonly stages: AudioStages | null;
  framesEncoded = 0;

  private constructor(
    readonly server: SoundServer,
    options: { env?: NodeJS.ProcessEnv; device?: string },
  ) {
    super();
    this.encoder = new OpusEncoder();
    this.capture = new AudioCapture({ device: options.device ?? server.monitor, env: options.env });
    this.stages = AudioStages.fromEnv('host', options.env);
    this.capture.on('frame', (frame: CapturedFrame) => {
      let payload: Buffer;
      try {
        payload = this.encoder.encode(frame.pcm);
      } catch {
        return;
      }
      this.framesEncoded += 1;
      const encodedAt = this.stages ? preciseNow() : 0;
      this.emit('packet', { payload, capturedAt: frame.capturedAt } satisfies EncodedAudio);
      // every viewer's sender has handed it to its socket by now ('packet' listeners run in line)
      this.stages?.row({ capturedAt: frame.capturedAt, read: frame.readAt, encoded: encodedAt, sent: preciseNow() });
    });
    this.capture.on('ended', (reason: string) => this.emit('ended', reason));
  }

  /** Starts capturing the default output's monitor; `unavailable` is the one line to show when there is no sound to capture. */
  static async open(options: { env?: NodeJS.ProcessEnv; device?: string } = {}): Promise<{ audio: HostAudio } | { unavailable: string }> {
    const probe = await probeSoundServer(options.env);
    if ('unavailable' in probe) return probe;
    let audio: HostAudio;
    try {
      audio = new HostAudio(probe.server, options);
    } catch (error) {
      return { unavailable: (error as Error).message };
    }
    audio.capture.start();
    return { audio };
  }

  async close(): Promise<void> {
    await this.capture.stop();
    this.encoder.close();
    this.stages?.close();
  }
}
