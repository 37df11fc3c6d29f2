import { join, resolve } from 'node:path';
import { startServe, type ServeHandle } from './spawn-cli';

/**
 * `gpu-bridge serve` on a fake host: it reads the fake tree at `root` (GPU_BRIDGE_HOST_ROOT), and the real
 * privileged helper runs on that tree directly (no pkexec), its sysfs writes performed by
 * tests/helpers/fake-kernel.mjs, which knows each device's native driver from `nativeDrivers`.
 * Config, state and the helper's state live under `dir`.
 */
export function startFakeHostServe(dir: string, root: string, nativeDrivers: Record<string, string | undefined>, env: NodeJS.ProcessEnv = {}): Promise<ServeHandle> {
  return startServe([], {
    GPU_BRIDGE_CONFIG_DIR: join(dir, 'config'),
    GPU_BRIDGE_STATE_DIR: join(dir, 'state'),
    GPU_BRIDGE_HOST_ROOT: root,
    GPU_BRIDGE_HELPER_ROOT: root,
    GPU_BRIDGE_HELPER_STATE_DIR: join(dir, 'helper-state'),
    GPU_BRIDGE_HELPER_WRITER: resolve(__dirname, 'fake-kernel.mjs'),
    GPU_BRIDGE_FAKE_KERNEL_DRIVERS: JSON.stringify(nativeDrivers),
    ...env,
  });
}
