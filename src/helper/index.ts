// gpu-bridge-helper: run as root through pkexec (or directly by root). Prints one JSON result on stdout.
//   bind <gpu-address> [--devices a,b,...] [--timeout-ms N]
//   restore <gpu-address> [--devices a,b,...] [--timeout-ms N]
//   rollback
import { runHelper } from './helper';

const { exitCode, result } = await runHelper(process.argv.slice(2), process.env);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(exitCode);
