/** One `gpu-bridge <name>` command. Each lives in its own file under commands/ and is listed in commands/index.ts. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code. Throw a CliError for a clean one-line failure. */
  run(argv: string[]): Promise<number>;
}

/** A failure the user can act on: printed as one line, no stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
