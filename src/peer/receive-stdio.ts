import { createInterface } from 'node:readline';
import { StreamMessage } from '../shared/contract/peers';
import { parseJsonLine } from '../shared/json-line';
import { answerOpen, PeerStreams } from './peer-streams';

/**
 * `gpu-bridge peer receive`: the peer's stream side alone, driven over stdio with the same messages
 * the control channel carries (one JSON line each). The self-test runs it as its local peer process.
 */
export async function receiveOverStdio(options: { listen: string; display: boolean }): Promise<number> {
  const write = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
  const streams = new PeerStreams({ listen: options.listen, display: options.display, send: write, flushMs: 50, warm: true });
  const lines = createInterface({ input: process.stdin });
  const done = new Promise<void>((resolve) => {
    lines.on('close', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  lines.on('line', (line) => {
    const message = parseJsonLine(StreamMessage, line);
    if (!message) {
      write({ type: 'stream.refused', reason: 'not a valid stream message' });
      return;
    }
    if (message.type === 'stream.open') {
      streams.open(message).then(
        (opened) => answerOpen(write, message.streamId, opened),
        (error: Error) => write({ type: 'stream.ended', streamId: message.streamId, reason: `could not listen: ${error.message}` }),
      );
    } else if (message.type === 'stream.close') {
      void streams.close(message.streamId);
    }
  });
  await streams.warmed();
  write({ event: 'ready', pid: process.pid });
  await done;
  await streams.closeAll();
  return 0;
}
