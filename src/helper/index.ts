// gpu-bridge-helper: run as root through pkexec (or directly by root). Prints one JSON result on stdout.
//   bind <gpu-address> [--devices a,b,...] [--timeout-ms N]
//   restore <gpu-address> [--devices a,b,...] [--timeout-ms N]
//   rollback
// Exit 0 done, 1 failed (rolled back where it could), 2 refused (nothing written).
// Test-only environment (each refused when PKEXEC_UID is set): GPU_BRIDGE_HELPER_ROOT (a tree that mirrors /),
// GPU_BRIDGE_HELPER_STATE_DIR (journal, audit.jsonl; default /var/lib/gpu-bridge),
// GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS (stop after N writes, for the kill-mid-way test),
// GPU_BRIDGE_HELPER_WRITER (with a fake root only: the program that does each write instead of tee, a fake kernel).
import { runHelper } from './helper';

const { exitCode, result } = await runHelper(process.argv.slice(2), process.env);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(exitCode);
