import { z } from 'zod';
import { event, method } from './define';

export const Shell = z.enum(['desktop', 'web']);

export const Capabilities = z.object({
  nvidiaSmi: z.boolean().describe('nvidia-smi found on PATH'),
  nvml: z.boolean().describe('libnvidia-ml.so.1 loads in-process'),
  ffmpeg: z.boolean(),
  ffmpegVersion: z.string().nullable(),
  ffmpegEncoders: z.array(z.string()).describe('video encoders relevant to streaming that this ffmpeg build has'),
  xDisplay: z.string().nullable().describe('the X display the host can capture, or null'),
  pkexec: z.boolean(),
  qemu: z.boolean(),
  libvirt: z.boolean(),
  notRecorded: z
    .array(z.enum(['nvidia', 'ffmpeg']))
    .describe('a recorded host: the tools its snapshot holds no output of (it was made without running them), so neither present nor absent; empty for a live host'),
});
export type Capabilities = z.infer<typeof Capabilities>;

export const AppInfo = z.object({
  name: z.literal('gpu-bridge'),
  version: z.string(),
  hostname: z.string(),
  shell: Shell,
  platform: z.string(),
  arch: z.string(),
  pid: z.number().int(),
  startedAt: z.string().describe('ISO time the core started'),
  capabilities: Capabilities,
  /** Set when this is a recorded host (`gpu-bridge serve --from SNAPSHOT`): read-only, every change refused. */
  snapshot: z.object({ host: z.string(), takenAt: z.string(), source: z.string().nullable() }).nullable(),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const Heartbeat = z.object({
  time: z.string(),
  uptimeSeconds: z.number().nonnegative(),
  clients: z.number().int().nonnegative(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const appMethods = {
  'app.info': method({
    description: 'Version, host and what this host can do.',
    params: z.object({}).strict().optional(),
    result: AppInfo,
  }),
  'app.ping': method({
    description: 'Echo, for connection checks and round-trip measurements.',
    params: z.object({ nonce: z.string().max(128).optional() }).strict().optional(),
    result: z.object({ nonce: z.string().nullable(), time: z.string() }),
  }),
};

export const appEvents = {
  'app.heartbeat': event({ description: 'Sent every few seconds while a client is connected.', payload: Heartbeat }),
};
