import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { startMetricsEndpoint, type MetricsEndpoint, type MetricsText } from './metrics-endpoint';

/** `<config dir>/metrics-endpoint.json`: `{"port": 9835, "token": "…"}` (token optional). */
export const METRICS_ENDPOINT_FILE = 'metrics-endpoint.json';

export const MetricsEndpointConfig = z
  .object({
    port: z.number().int().min(1).max(65_535),
    token: z.string().regex(/^[\x21-\x7e]{16,256}$/, 'a token is 16 to 256 printable ASCII characters, no spaces').nullable().optional(),
  })
  .strict();
export type MetricsEndpointConfig = z.infer<typeof MetricsEndpointConfig>;

/**
 * The desktop app's local metrics port setting: GPU_BRIDGE_METRICS_PORT (and GPU_BRIDGE_METRICS_TOKEN)
 * when set, else the config file, else null (no endpoint: the default). Throws a readable error for a
 * setting that is present but invalid.
 */
export function readMetricsEndpointConfig(env: NodeJS.ProcessEnv, configDir: string): MetricsEndpointConfig | null {
  const fromEnv = env.GPU_BRIDGE_METRICS_PORT;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d{1,5}$/.test(fromEnv)) throw new Error(`GPU_BRIDGE_METRICS_PORT must be a port number, not "${fromEnv}"`);
    return parse({ port: Number(fromEnv), token: env.GPU_BRIDGE_METRICS_TOKEN || null }, 'GPU_BRIDGE_METRICS_PORT/GPU_BRIDGE_METRICS_TOKEN');
  }
  const file = join(configDir, METRICS_ENDPOINT_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
  return parse(json, file);
}

function parse(value: unknown, where: string): MetricsEndpointConfig {
  const result = MetricsEndpointConfig.safeParse(value);
  if (!result.success) throw new Error(`${where}: ${result.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** Starts the endpoint when the setting is there; reports (never throws) a bad setting or a busy port. */
export async function startConfiguredMetricsEndpoint(
  exporter: MetricsText,
  options: { env: NodeJS.ProcessEnv; configDir: string; log: (line: string) => void },
): Promise<MetricsEndpoint | null> {
  try {
    const config = readMetricsEndpointConfig(options.env, options.configDir);
    if (!config) return null;
    const endpoint = await startMetricsEndpoint({ exporter, port: config.port, token: config.token ?? null });
    options.log(`gpu-bridge: Prometheus metrics at ${endpoint.url}${config.token ? ' (bearer token required)' : ' (loopback only, no token)'}`);
    return endpoint;
  } catch (error) {
    options.log(`gpu-bridge: no local metrics endpoint: ${(error as Error).message}`);
    return null;
  }
}
