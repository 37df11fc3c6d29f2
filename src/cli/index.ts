import './threadpool';
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    // Long-running commands (serve, peer run) resolve only when they are done.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gpu-bridge: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
