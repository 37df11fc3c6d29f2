import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where GPU Bridge keeps its files. `GPU_BRIDGE_CONFIG_DIR` / `GPU_BRIDGE_STATE_DIR` override (tests, --config-dir). */
export interface AppPaths {
  configDir: string;
  stateDir: string;
}

export function defaultPaths(env: NodeJS.ProcessEnv = process.env): AppPaths {
  const home = env.HOME ?? homedir();
  const configBase = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(home, '.config');
  const stateBase = env.XDG_STATE_HOME && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(home, '.local', 'state');
  return {
    configDir: env.GPU_BRIDGE_CONFIG_DIR || join(configBase, 'gpu-bridge'),
    stateDir: env.GPU_BRIDGE_STATE_DIR || env.GPU_BRIDGE_CONFIG_DIR || join(stateBase, 'gpu-bridge'),
  };
}
