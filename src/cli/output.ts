/** A command's answer on stdout: one JSON line with --json, else the human text. */
export function printResult(json: boolean | undefined, value: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
}
