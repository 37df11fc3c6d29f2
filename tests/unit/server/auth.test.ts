import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hostAllowed, originAllowed, presentedToken, tokenMatches } from '../../../src/server/auth';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('web shell auth', () => {
  it('reads the token from the query, a bearer header or the cookie', () => {
    expect(presentedToken(request({}), new URL('http://h/?token=abc'))).toBe('abc');
    expect(presentedToken(request({ authorization: 'Bearer xyz' }), new URL('http://h/'))).toBe('xyz');
    expect(presentedToken(request({ cookie: 'a=1; gpu_bridge_token=tok; b=2' }), new URL('http://h/'))).toBe('tok');
    expect(presentedToken(request({}), new URL('http://h/'))).toBeNull();
  });
  it('compares tokens exactly', () => {
    expect(tokenMatches('secret', 'secret')).toBe(true);
    expect(tokenMatches('secre', 'secret')).toBe(false);
    expect(tokenMatches('', 'secret')).toBe(false);
    expect(tokenMatches(null, 'secret')).toBe(false);
  });
  it('allows only our own origin, or none (non-browser clients)', () => {
    expect(originAllowed(undefined, ['http://127.0.0.1:1'])).toBe(true);
    expect(originAllowed('http://127.0.0.1:1', ['http://127.0.0.1:1'])).toBe(true);
    expect(originAllowed('https://evil.example', ['http://127.0.0.1:1'])).toBe(false);
    expect(originAllowed('null', ['http://127.0.0.1:1'])).toBe(false);
  });
  it('checks Host against DNS rebinding', () => {
    expect(hostAllowed('127.0.0.1:8765', ['127.0.0.1:8765'])).toBe(true);
    expect(hostAllowed('evil.example:8765', ['127.0.0.1:8765'])).toBe(false);
    expect(hostAllowed(undefined, ['127.0.0.1:8765'])).toBe(false);
  });
});
