import { createInterface } from 'node:readline';
import { StreamMessage } from '../../shared/contract/peers';
import { parseJsonLine } from '../../shared/json-line';
import { spawnTied, type SupervisedSpawn } from './child-process';
import { MessageViewerLink } from './message-viewer-link';

/**
 * A viewer in a separate local process (`gpu-bridge peer receive`), spoken to over its stdio: the
 * self-test's peer. Same clock as ours, so the offset is 0 and latency needs no estimate.
 */
export class LocalViewer {
  readonly link: MessageViewerLink;
  private readonly process: SupervisedSpawn;
  /** Resolves once the peer process reads its input (its first line). */
  readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;

  /** `host`: the address its listeners are reached at (the one `peer receive --listen` was given). */
  constructor(command: { file: string; args: string[]; env?: NodeJS.ProcessEnv }, name = 'local peer', host = '127.0.0.1') {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.process = spawnTied(command.file, command.args, ['pipe', 'pipe', 'inherit'], command.env);
    this.link = new MessageViewerLink({
      name,
      host,
      send: (message) => {
        if (this.process.child.stdin?.writable) this.process.child.stdin.write(`${JSON.stringify(message)}\n`);
      },
      clock: () => ({ offsetMs: 0, rttMs: 0 }),
    });
    const lines = createInterface({ input: this.process.child.stdout! });
    lines.on('line', (line) => {
      this.markReady();
      const message = parseJsonLine(StreamMessage, line);
      if (message) this.link.receive(message);
    });
    void this.process.exited.then(({ code, signal, error }) => {
      this.markReady();
      this.link.gone(error ?? `peer process exited (${signal ?? code})`);
    });
  }

  get pid(): number | undefined {
    return this.process.child.pid;
  }

  async stop(): Promise<void> {
    this.process.child.stdin?.end();
    await this.process.stop(2000);
  }
}
