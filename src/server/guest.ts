import { ErrorCode } from '../shared/errors';
import { GUEST_METHODS } from '../core/webrtc/webrtc-service';

/**
 * A view link's browser may only watch: null lets the message through to the dispatcher (which validates
 * it fully); otherwise the refusal to send back.
 */
export function guestMessageAllowed(raw: string | Buffer): { id: unknown; error: { code: string; message: string } } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return null; // the dispatcher answers malformed messages itself
  }
  const { id, method } = (parsed ?? {}) as { id?: unknown; method?: unknown };
  if (typeof method === 'string' && GUEST_METHODS.has(method)) return null;
  return { id: id ?? null, error: { code: ErrorCode.Refused, message: 'a view link can only watch: this method is for the owner' } };
}
