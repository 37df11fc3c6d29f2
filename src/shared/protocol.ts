import { z } from 'zod';
import type { ApiErrorBody } from './errors';

/** Largest message either shell accepts, in bytes of UTF-8. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export const RequestId = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);
export type RequestId = z.infer<typeof RequestId>;

export const RequestEnvelope = z
  .object({
    id: RequestId,
    method: z.string().min(1).max(128),
    params: z.unknown().optional(),
  })
  .strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export interface ResultMessage {
  id: RequestId;
  result: unknown;
}
export interface ErrorMessage {
  id: RequestId | null;
  error: ApiErrorBody;
}
export interface EventMessage {
  event: string;
  payload: unknown;
}
export type ServerMessage = ResultMessage | ErrorMessage | EventMessage;
