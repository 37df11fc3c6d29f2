import { createSocket, type Socket } from 'node:dgram';
import type { EncodedAudio } from '../audio/host-audio';
import { NativeSrtCaller, type loadSrt } from './srt-native';
import type { SrtEndpoint } from './srt-url';
import { TsOpusMuxer } from './ts-opus';

type SrtLib = NonNullable<ReturnType<typeof loadSrt>>;

/** Kernel buffer for the encoder's loopback datagrams: a 4K keyframe's worth, so none is dropped while we are busy. */
const RECEIVE_BUFFER_BYTES = 8 << 20;

/**
 * One encoder run's srt output when the session carries sound: ffmpeg writes its MPEG-TS to a loopback
 * UDP socket of ours (a datagram of up to 7 TS packets), and we call every viewer's listener ourselves
 * (libsrt through koffi) and send each datagram on as one SRT message, with the sound's Opus packets
 * muxed in between as they are encoded (ts-opus.ts). ffmpeg never sees the sound: its picture is not held
 * back for it by ffmpeg's interleaving, which with a second input made frames wait 10 to 40 ms.
 */
export class SrtMuxedOutput {
  private readonly socket: Socket = createSocket('udp4');
  private readonly callers: NativeSrtCaller[] = [];
  private readonly muxer = new TsOpusMuxer();
  private stopSound: () => void = () => undefined;
  private closed = false;

  constructor(private readonly srt: SrtLib) {
    this.socket.on('error', () => undefined);
    this.socket.on('message', (datagram) => {
      const ts = this.muxer.tables(datagram);
      for (const caller of this.callers) caller.send(ts);
    });
  }

  /** Binds the loopback socket the encoder sends to; its port. */
  async open(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, '127.0.0.1', () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    return this.socket.address().port;
  }

  /** Calls a viewer's listener; throws when it does not answer. */
  async call(endpoint: SrtEndpoint, connectTimeoutMs = 3000): Promise<void> {
    const caller = new NativeSrtCaller(this.srt, { ...endpoint, connectTimeoutMs });
    await caller.connect();
    if (this.closed) {
      caller.close();
      return;
    }
    // a viewer that hangs up is dropped from the run (as ffmpeg's tee with onfail=ignore did); the session hears of it from its link
    caller.once('end', () => {
      const at = this.callers.indexOf(caller);
      if (at >= 0) this.callers.splice(at, 1);
    });
    this.callers.push(caller);
  }

  /** From now on the sound goes in too: `subscribe` hands each encoded packet over and returns its stop. */
  carrySound(subscribe: (listener: (packet: EncodedAudio) => void) => () => void): void {
    this.stopSound();
    this.stopSound = subscribe((packet) => {
      // nothing before the PMT that declares it: a peer on ffmpeg's own SRT listener would take a stray PES for a stream of its own
      if (!this.muxer.declared) return;
      const ts = this.muxer.packet(packet.payload, packet.capturedAt);
      for (const caller of this.callers) caller.send(ts);
    });
  }

  get dropped(): number {
    return this.callers.reduce((sum, caller) => sum + caller.dropped, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopSound();
    this.socket.close();
    for (const caller of this.callers) caller.close();
    this.callers.length = 0;
  }
}
