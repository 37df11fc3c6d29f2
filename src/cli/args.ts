import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './command';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with strict checking, turning its errors into one clear CLI line. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nusage: ${usage}`, 2);
  }
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be an integer from 0 to 65535, got "${value}"`, 2);
  return port;
}
