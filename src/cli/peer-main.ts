import './threadpool';
import { VERSION } from '../core/version';
import { CliError } from './command';
import { peerCommand } from './commands/peer';

const NAME = 'gpu-bridge-peer';

/** The packaged peer's usage: the `peer` command's, under its own name. */
function usage(): string {
  return [
    `${NAME} ${VERSION}: the GPU Bridge agent on a cloud instance (pair with a workstation, receive its stream)`,
    '',
    `usage: ${peerCommand.usage.replaceAll('gpu-bridge peer', NAME)}`,
    '',
    `${NAME} run --watch WxH@FPS[:KBPSk][:CODEC] asks each host it meets for a stream.`,
  ].join('\n');
}

/**
 * `gpu-bridge-peer`: the peer commands alone (run, pair, list, revoke, receive), for the single executable
 * that a cloud instance installs without Node.js or the desktop app.
 */
export async function peerMain(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${usage()}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  try {
    return await peerCommand.run(argv);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`${NAME}: ${error.message.replaceAll('gpu-bridge peer', NAME)}\n`);
      return error.exitCode;
    }
    process.stderr.write(`${NAME}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

peerMain(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${NAME}: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
