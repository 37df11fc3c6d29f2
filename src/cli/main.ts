import { VERSION } from '../core/version';
import { CliError, type CliCommand } from './command';
import { commands } from './commands';

function usage(list: CliCommand[]): string {
  const width = Math.max(...list.map((command) => command.name.length));
  return [
    `gpu-bridge ${VERSION}: share this workstation's GPU with cloud instances and VMs`,
    '',
    'usage: gpu-bridge <command> [options]',
    '',
    ...list.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'gpu-bridge <command> --help shows a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage(commands)}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    process.stderr.write(`gpu-bridge: unknown command "${name}"\n\n${usage(commands)}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n${command.summary}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`gpu-bridge ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`gpu-bridge ${name}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
