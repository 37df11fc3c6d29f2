import { methods, isMethodName, type MethodName } from '../../shared/contract';
import { ApiError, ErrorCode, type ApiErrorBody } from '../../shared/errors';
import { MAX_MESSAGE_BYTES, RequestEnvelope, type ErrorMessage, type RequestId, type ResultMessage } from '../../shared/protocol';
import type { CallContext, Handler, Handlers } from './handlers';
import { describeZodError } from './zod-message';

export type Reply = ResultMessage | ErrorMessage;

export interface DispatcherOptions {
  /** Called for handler crashes (not for client mistakes). */
  onInternalError?: (method: string, error: unknown) => void;
  /** Check handler results against the contract too (on by default: a wrong result is a bug, not a reply). */
  validateResults?: boolean;
}

function errorReply(id: RequestId | null, code: ApiErrorBody['code'], message: string): ErrorMessage {
  return { id, error: { code, message } };
}

/** Pulls a usable id out of something that failed validation, so the client can still match the error. */
function salvageId(value: unknown): RequestId | null {
  if (typeof value !== 'object' || value === null) return null;
  const parsed = RequestEnvelope.shape.id.safeParse((value as { id?: unknown }).id);
  return parsed.success ? parsed.data : null;
}

/**
 * The one place requests enter core. Every request is checked against the contract before a handler
 * sees it, and every outcome, including a handler that throws, becomes a `{result}` or `{error}` reply.
 */
export class Dispatcher {
  private readonly handlers: Handlers;
  private readonly options: DispatcherOptions;

  constructor(handlers: Handlers, options: DispatcherOptions = {}) {
    this.handlers = handlers;
    this.options = options;
  }

  /** Raw text (or bytes) from a shell. Never throws. */
  async handleRaw(raw: string | Buffer | ArrayBuffer | Buffer[], ctx: CallContext): Promise<Reply> {
    let text: string;
    try {
      const byteLength = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : rawByteLength(raw);
      if (byteLength > MAX_MESSAGE_BYTES) {
        return errorReply(null, ErrorCode.MessageTooLarge, `message is ${byteLength} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
      }
      text = typeof raw === 'string' ? raw : rawToString(raw);
    } catch {
      return errorReply(null, ErrorCode.ParseError, 'message could not be read as UTF-8 text');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return errorReply(null, ErrorCode.ParseError, `malformed JSON: ${(error as Error).message}`);
    }
    return this.handle(value, ctx);
  }

  /** An already-parsed message. Never throws. */
  async handle(value: unknown, ctx: CallContext): Promise<Reply> {
    const envelope = RequestEnvelope.safeParse(value);
    if (!envelope.success) {
      return errorReply(
        salvageId(value),
        ErrorCode.InvalidRequest,
        `expected {id, method, params}: ${describeZodError(envelope.error)}`,
      );
    }
    const { id, method } = envelope.data;
    if (!isMethodName(method)) {
      return errorReply(id, ErrorCode.UnknownMethod, `unknown method "${method.slice(0, 128)}"`);
    }
    const spec = methods[method];
    const params = spec.params.safeParse(envelope.data.params);
    if (!params.success) {
      return errorReply(id, ErrorCode.InvalidParams, `${method}: ${describeZodError(params.error)}`);
    }
    try {
      const handler = this.handlers[method] as Handler<MethodName>;
      const result: unknown = await handler(params.data as never, ctx);
      if (this.options.validateResults !== false) {
        const checked = spec.result.safeParse(result);
        if (!checked.success) {
          this.options.onInternalError?.(method, checked.error);
          return errorReply(id, ErrorCode.Internal, `${method}: the host produced an invalid result (${describeZodError(checked.error)})`);
        }
        return { id, result: checked.data };
      }
      return { id, result };
    } catch (error) {
      if (error instanceof ApiError) return errorReply(id, error.code, error.message);
      this.options.onInternalError?.(method, error);
      const message = error instanceof Error ? error.message : String(error);
      return errorReply(id, ErrorCode.Internal, `${method} failed: ${message}`);
    }
  }
}

function rawByteLength(raw: Buffer | ArrayBuffer | Buffer[]): number {
  if (Array.isArray(raw)) return raw.reduce((sum, part) => sum + part.byteLength, 0);
  return raw.byteLength;
}

function rawToString(raw: Buffer | ArrayBuffer | Buffer[]): string {
  const buffer = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
}
