import type { Writable } from 'node:stream';
import { freeUdpPort } from '../net/free-udp-port';
import { HeldFrames } from '../audio/held-frames';
import type { DecoderInput, InputEvents, PictureSync, ReceiverInput } from '../sessions/receiver-input';
import { waitUdpBound } from '../sessions/udp-bound';
import type { LinkStats } from '../sessions/viewer-link';
import { loadSrt, NativeSrtListener } from './srt-native';
import { TsOpusDemuxer } from './ts-opus';

export interface SrtInputOptions {
  listen: string;
  /** 0 picks a free one. */
  port: number;
  passphrase: string;
  latencyMs: number;
  listenTimeoutMs?: number;
  /** The stream carries sound (its Opus inside the TS): handed to it, and the picture held for it. */
  sync?: PictureSync;
}

/**
 * The peer's srt input: our own SRT listener (libsrt through koffi) where it loads, feeding the
 * decoder's stdin and giving SRT's statistics; else ffmpeg's own SRT listener. With sound (`sync`),
 * the TS is demuxed on its way: the Opus packets go to the sound's receiver, the rest to the decoder,
 * held there as long as lip sync asks. (ffmpeg's own listener cannot do that: no sound there.)
 */
export class SrtInput implements ReceiverInput {
  readonly name = 'srt';
  decoderInput: DecoderInput = { kind: 'pipe' };
  private listener: NativeSrtListener | null = null;
  private sync: PictureSync | null;

  constructor(private readonly options: SrtInputOptions) {
    this.sync = options.sync ?? null;
  }

  syncWith(sync: PictureSync): void {
    this.sync = sync;
  }

  async open(): Promise<number> {
    const { listen, passphrase, latencyMs } = this.options;
    const port = this.options.port || (await freeUdpPort(listen));
    const srt = loadSrt();
    if (!srt) {
      this.decoderInput = { kind: 'listen', listen: { host: listen, port, passphrase, latencyMs } };
      return port;
    }
    const listener = new NativeSrtListener(srt, { host: listen, port, passphrase, latencyMs, listenTimeoutMs: this.options.listenTimeoutMs ?? 10_000 });
    listener.start();
    this.listener = listener;
    return port;
  }

  /** ffmpeg's listener: the host may call as soon as we answer, so answer once it is really there. */
  async listening(decoderAlive: () => boolean): Promise<void> {
    if (this.decoderInput.kind !== 'listen') return;
    if (!(await waitUdpBound(this.decoderInput.listen.port, 5000, decoderAlive))) throw new Error('the SRT listener did not start');
  }

  /** Pipes our listener's stream into the decoder and reports SRT's counters each second (received, lost before repair, dropped). */
  feed(stdin: Writable, on: InputEvents): () => void {
    const listener = this.listener;
    if (!listener) return () => undefined;
    stdin.on('error', () => undefined);
    let demuxer: TsOpusDemuxer | null = null;
    let held: HeldFrames | null = null;
    listener.on('data', (chunk: Buffer) => {
      const sync = this.sync;
      if (!sync) {
        stdin.write(chunk);
        return;
      }
      demuxer ??= new TsOpusDemuxer();
      held ??= new HeldFrames(stdin);
      const before = demuxer.soundBytes;
      const out = demuxer.push(chunk);
      const bytes = out.sound.length > 0 ? (demuxer.soundBytes - before) / out.sound.length : 0;
      for (const packet of out.sound) sync.sound?.(packet.payload, packet.pts, bytes);
      if (out.video.length === 0) return;
      const at = held.push(out.video, sync.holdMs());
      for (const pts of out.videoPts) sync.sent(pts % 2 ** 32, at);
    });
    listener.on('end', (reason: string) => on.end(reason));
    let last = { received: 0, lost: 0, dropped: 0 };
    const stats = setInterval(() => {
      const now = listener.counters();
      if (!now) return;
      on.stats({ received: now.received - last.received, lost: now.lost - last.lost, dropped: now.dropped - last.dropped } satisfies LinkStats);
      last = now;
    }, 1000);
    stats.unref();
    return () => {
      clearInterval(stats);
      held?.clear();
      listener.close();
    };
  }

  close(): void {
    this.listener?.close();
  }
}
