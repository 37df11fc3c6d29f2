import { EventEmitter } from 'node:events';
import { buildReceiverArgs } from './pipeline';
import { spawnTied, type SupervisedSpawn } from './child-process';
import type { ReceiverInput } from './receiver-input';
import { readStamps, type DecodedFrame } from './stamp-reader';
import type { Writable } from 'node:stream';

export interface ReceiverOptions {
  /** The transport's side of it (src/core/<transport>/): see receiverInput in transport-rooms.ts. */
  input: ReceiverInput;
  display: boolean;
  title?: string;
  listenTimeoutMs?: number;
  /** Height of the picture without the stamp strip (for display). */
  viewHeight?: number;
  ffmpeg?: string;
  /** A decoder started ahead (`startDecoder`), for an input that feeds its stdin, so ffmpeg's start-up is not part of the session's. */
  decoder?: SupervisedSpawn;
}

/** A headless decoder reading MPEG-TS on stdin, started before it is needed (the peer keeps one warm). */
export function startDecoder(ffmpeg = 'ffmpeg'): SupervisedSpawn {
  return spawnTied(ffmpeg, buildReceiverArgs({ display: false, input: 'pipe' }), ['pipe', 'pipe', 'pipe']);
}

/**
 * The peer's receiving end of one session: the transport's input (ReceiverInput) feeding a decoder
 * that reads every frame's stamp. Events: 'frame' (DecodedFrame), 'exit' ({code, reason}), 'link-stats'
 * (LinkStats per second, where the input reads them). The stream ends when the host hangs up or goes
 * silent (the input says), or `stop` is called.
 */
export class Receiver extends EventEmitter {
  private process: SupervisedSpawn | null = null;
  private stderrTail = '';
  /** Why the input ended its stream (the caller left, no caller came, the host went silent). */
  private endReason: string | null = null;
  port = 0;

  constructor(private readonly options: ReceiverOptions) {
    super();
  }

  async start(): Promise<number> {
    const input = this.options.input;
    this.port = await input.open();
    const from = input.decoderInput;
    const args = buildReceiverArgs({
      ...(from.kind === 'listen' ? { listen: from.listen, input: 'srt' as const } : { input: 'pipe' as const }),
      display: this.options.display,
      title: this.options.title,
      listenTimeoutMs: this.options.listenTimeoutMs,
      viewHeight: this.options.viewHeight,
    });
    const pipe = from.kind === 'pipe';
    const process = this.spawnDecoder(args, pipe, (stdin) => input.feed(stdin, {
      stats: (stats) => this.emit('link-stats', stats),
      end: (reason) => {
        this.endReason = reason;
        stdin.end();
      },
    }), pipe ? this.options.decoder : undefined);
    try {
      await input.listening(() => process.child.exitCode === null && process.child.signalCode === null);
    } catch (error) {
      await process.stop(500);
      throw new Error(`${(error as Error).message}: ${lastLine(this.stderrTail)}`);
    }
    return this.port;
  }

  /** The decoder: stamps read from its stdout, its last words kept, 'exit' with the reason the stream ended. */
  private spawnDecoder(args: string[], withStdin: boolean, feed: (stdin: Writable) => () => void, started?: SupervisedSpawn): SupervisedSpawn {
    const process = started ?? spawnTied(this.options.ffmpeg ?? 'ffmpeg', args, [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe']);
    this.process = process;
    readStamps(process.child.stdout!, (frame: DecodedFrame) => this.emit('frame', frame));
    process.child.stderr!.setEncoding('utf8');
    process.child.stderr!.on('data', (text: string) => (this.stderrTail = (this.stderrTail + text).slice(-2000)));
    const stopFeeding = withStdin ? feed(process.child.stdin!) : () => undefined;
    void process.exited.then(({ code, signal, error }) => {
      stopFeeding();
      const ended = this.endReason ? `stream ended: ${this.endReason}` : 'stream ended';
      const reason = error ?? (signal ? `receiver stopped by ${signal}` : this.endReason || code === 0 ? ended : `receiver exited with code ${code}: ${lastLine(this.stderrTail)}`);
      this.emit('exit', { code, reason });
    });
    return process;
  }

  async stop(): Promise<void> {
    this.options.input.close();
    await this.process?.stop(1000);
  }

  /** The input's data plane, where it has a choice (see ReceiverInput). */
  get dataPlane(): string | undefined {
    return this.options.input.dataPlane;
  }

  get pid(): number | undefined {
    return this.process?.child.pid;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1)?.slice(0, 300) ?? '(no message)';
}
