import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { buildReceiverArgs } from './pipeline';
import { spawnTied, type SupervisedSpawn } from './child-process';
import { readStamps, type DecodedFrame } from './stamp-reader';
import { waitUdpBound } from './udp-bound';
import { loadSrt, NativeSrtListener } from './srt-native';
import { isIPv4 } from 'node:net';
import type { Writable } from 'node:stream';

export interface ReceiverOptions {
  /** Address to listen on (an IP). */
  listen: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  passphrase: string;
  latencyMs: number;
  display: boolean;
  title?: string;
  listenTimeoutMs?: number;
  /** Height of the picture without the stamp strip (for display). */
  viewHeight?: number;
  ffmpeg?: string;
}

/** A free UDP port on `host` (bound and released; ffmpeg binds it right after). */
export function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/**
 * The peer's receiving end of one session: an SRT listener that decodes and reads every frame's stamp.
 * Events: 'frame' (DecodedFrame), 'exit' ({code, reason}), 'srt-stats' (per second, with our own SRT
 * listener). The stream ends when the host hangs up.
 */
export class Receiver extends EventEmitter {
  private process: SupervisedSpawn | null = null;
  private stderrTail = '';
  private listener: NativeSrtListener | null = null;
  /** Why our own listener ended its stream (the caller left, no caller came). */
  private endReason: string | null = null;
  port = 0;

  constructor(private readonly options: ReceiverOptions) {
    super();
  }

  async start(): Promise<number> {
    this.port = this.options.port || (await freeUdpPort(this.options.listen));
    // our own SRT listener (libsrt through koffi) where it loads: the same stream, plus SRT's statistics
    const srt = isIPv4(this.options.listen) ? loadSrt() : null;
    const args = buildReceiverArgs({
      listen: { host: this.options.listen, port: this.port, passphrase: this.options.passphrase, latencyMs: this.options.latencyMs },
      display: this.options.display,
      title: this.options.title,
      listenTimeoutMs: this.options.listenTimeoutMs,
      viewHeight: this.options.viewHeight,
      input: srt ? 'pipe' : 'srt',
    });
    if (srt) {
      const listener = new NativeSrtListener(srt, {
        host: this.options.listen, port: this.port, passphrase: this.options.passphrase, latencyMs: this.options.latencyMs,
        listenTimeoutMs: this.options.listenTimeoutMs ?? 10_000,
      });
      listener.start();
      this.listener = listener;
    }
    const process = spawnTied(this.options.ffmpeg ?? 'ffmpeg', args, [srt ? 'pipe' : 'ignore', 'pipe', 'pipe']);
    this.process = process;
    readStamps(process.child.stdout!, (frame: DecodedFrame) => this.emit('frame', frame));
    process.child.stderr!.setEncoding('utf8');
    process.child.stderr!.on('data', (text: string) => (this.stderrTail = (this.stderrTail + text).slice(-2000)));
    const stopFeeding = this.listener ? this.feed(this.listener, process.child.stdin!) : () => undefined;
    void process.exited.then(({ code, signal, error }) => {
      stopFeeding();
      const ended = this.endReason ? `stream ended: ${this.endReason}` : 'stream ended';
      const reason = error ?? (signal ? `receiver stopped by ${signal}` : this.endReason || code === 0 ? ended : `receiver exited with code ${code}: ${lastLine(this.stderrTail)}`);
      this.emit('exit', { code, reason });
    });
    if (this.listener) return this.port;
    // ffmpeg's listener: the host may call as soon as we answer, so answer once it is really there
    const alive = () => process.child.exitCode === null && process.child.signalCode === null;
    if (!(await waitUdpBound(this.port, 5000, alive))) {
      await process.stop(500);
      throw new Error(`the SRT listener did not start: ${lastLine(this.stderrTail)}`);
    }
    return this.port;
  }

  /**
   * Pipes our listener's stream into ffmpeg's stdin and emits SRT's counters each second ('srt-stats':
   * packets received, lost before repair, dropped). Returns the function that stops it.
   */
  private feed(listener: NativeSrtListener, stdin: Writable): () => void {
    stdin.on('error', () => undefined);
    listener.on('data', (chunk: Buffer) => stdin.write(chunk));
    listener.on('end', (reason: string) => {
      this.endReason = reason;
      stdin.end();
    });
    let last = { received: 0, lost: 0, dropped: 0 };
    const stats = setInterval(() => {
      const now = listener.counters();
      if (!now) return;
      this.emit('srt-stats', { received: now.received - last.received, lost: now.lost - last.lost, dropped: now.dropped - last.dropped });
      last = now;
    }, 1000);
    stats.unref();
    return () => {
      clearInterval(stats);
      listener.close();
    };
  }

  async stop(): Promise<void> {
    this.listener?.close();
    await this.process?.stop(1000);
  }

  get pid(): number | undefined {
    return this.process?.child.pid;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1)?.slice(0, 300) ?? '(no message)';
}
