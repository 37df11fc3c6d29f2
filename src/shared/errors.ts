/** Stable error codes carried in `{error: {code, message}}`. Never renumber or rename: clients match on them. */
export const ErrorCode = {
  ParseError: 'PARSE_ERROR',
  InvalidRequest: 'INVALID_REQUEST',
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  UnknownMethod: 'UNKNOWN_METHOD',
  InvalidParams: 'INVALID_PARAMS',
  Internal: 'INTERNAL',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  RateLimited: 'RATE_LIMITED',
  Refused: 'REFUSED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
}

/** An error a handler throws on purpose: its code and message reach the caller as they are. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

export function isApiErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ApiErrorBody).code === 'string' &&
    typeof (value as ApiErrorBody).message === 'string'
  );
}
