import { z } from 'zod';
import { event, method } from './define';

/** Every per-GPU series the sampler keeps. Units are in the names. */
export const METRIC_KEYS = [
  'gpuUtilPercent',
  'memoryUtilPercent',
  'encoderUtilPercent',
  'decoderUtilPercent',
  'memoryUsedBytes',
  'memoryTotalBytes',
  'temperatureC',
  'powerW',
  'powerLimitW',
  'graphicsClockMHz',
  'memoryClockMHz',
  'fanPercent',
  'encoderSessions',
] as const;
export const MetricKey = z.enum(METRIC_KEYS);
export type MetricKey = z.infer<typeof MetricKey>;

export const MetricValues = z.partialRecord(MetricKey, z.number().nullable());
export type MetricValues = z.infer<typeof MetricValues>;

export const MetricSample = z.object({
  t: z.number().describe('ms since the epoch'),
  address: z.string(),
  values: MetricValues.describe('null: the GPU did not say ([N/A], [Not Supported])'),
});
export type MetricSample = z.infer<typeof MetricSample>;

export const MetricsBatch = z.object({
  samples: z.array(MetricSample).describe('every sample since the previous batch, oldest first'),
});
export type MetricsBatch = z.infer<typeof MetricsBatch>;

export const MetricsSeries = z.object({
  address: z.string(),
  name: z.string().nullable(),
  t: z.array(z.number()),
  values: z.partialRecord(MetricKey, z.array(z.number().nullable())),
});
export type MetricsSeries = z.infer<typeof MetricsSeries>;

export const MetricsStatus = z.object({
  rateHz: z.number(),
  source: z.enum(['nvml', 'nvidia-smi', 'sysfs', 'none', 'custom', 'replay']),
  running: z.boolean(),
  capacity: z.number().int().describe('points kept per series'),
});
export type MetricsStatus = z.infer<typeof MetricsStatus>;

export const metricsMethods = {
  'metrics.status': method({ description: 'The sampler: rate, source, whether it runs.', params: z.object({}).strict().optional(), result: MetricsStatus }),
  'metrics.history': method({
    description: 'The kept history per GPU (up to 1 h at 1 Hz), for a chart that opens mid-stream.',
    params: z.object({ address: z.string().optional(), seconds: z.number().positive().max(86_400).optional() }).strict().optional(),
    result: z.object({ series: z.array(MetricsSeries) }),
  }),
  'metrics.setRate': method({
    description: 'Change the sampling rate (0.2–10 Hz).',
    params: z.object({ hz: z.number().min(0.2).max(10) }).strict(),
    result: MetricsStatus,
  }),
};

export const metricsEvents = {
  'metrics.batch': event({ description: 'New samples, batched: at most 4 messages a second whatever the number of series.', payload: MetricsBatch }),
};
