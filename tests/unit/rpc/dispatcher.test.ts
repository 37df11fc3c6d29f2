import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dispatcher } from '../../../src/core/rpc/dispatcher';
import type { Handlers } from '../../../src/core/rpc/handlers';
import { ApiError, ErrorCode } from '../../../src/shared/errors';
import { MAX_MESSAGE_BYTES } from '../../../src/shared/protocol';
import { createTestCore } from '../../helpers/test-core';

const ctx = { shell: 'web' as const, clientId: 'test' };
const core = createTestCore();
afterAll(() => core.dispose());

describe('dispatcher', () => {
  const dispatcher = core.dispatcher;

  it('answers app.info with a result that matches the contract', async () => {
    const reply = await dispatcher.handleRaw(JSON.stringify({ id: 1, method: 'app.info' }), ctx);
    expect(reply).toMatchObject({ id: 1, result: { name: 'gpu-bridge', shell: 'web' } });
  });

  it('refuses malformed JSON with PARSE_ERROR and a null id', async () => {
    const reply = await dispatcher.handleRaw('{"id":1,', ctx);
    expect(reply).toMatchObject({ id: null, error: { code: ErrorCode.ParseError } });
    expect('error' in reply && reply.error.message).toMatch(/malformed JSON/);
  });

  it('refuses messages over 1 MiB before parsing them', async () => {
    const big = JSON.stringify({ id: 2, method: 'app.ping', params: { nonce: 'x'.repeat(MAX_MESSAGE_BYTES) } });
    const reply = await dispatcher.handleRaw(big, ctx);
    expect(reply).toMatchObject({ error: { code: ErrorCode.MessageTooLarge } });
  });

  it('refuses an unknown method, keeping the id', async () => {
    const reply = await dispatcher.handleRaw(JSON.stringify({ id: 'a', method: 'gpu.selfDestruct' }), ctx);
    expect(reply).toMatchObject({ id: 'a', error: { code: ErrorCode.UnknownMethod } });
  });

  it('does not treat Object.prototype names as methods', async () => {
    for (const method of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      const reply = await dispatcher.handleRaw(JSON.stringify({ id: 3, method }), ctx);
      expect(reply).toMatchObject({ error: { code: ErrorCode.UnknownMethod } });
    }
  });

  it('refuses bad params with INVALID_PARAMS naming the field', async () => {
    const reply = await dispatcher.handleRaw(JSON.stringify({ id: 4, method: 'sharing.set', params: { sharing: 'yes' } }), ctx);
    expect(reply).toMatchObject({ id: 4, error: { code: ErrorCode.InvalidParams } });
    expect('error' in reply && reply.error.message).toMatch(/sharing/);
  });

  it('refuses envelopes that are not {id, method, params}', async () => {
    for (const bad of [null, 42, 'text', [], { method: 'app.info' }, { id: {}, method: 'app.info' }, { id: 1, method: 'app.info', extra: true }]) {
      const reply = await dispatcher.handle(bad, ctx);
      expect(reply).toMatchObject({ error: { code: ErrorCode.InvalidRequest } });
    }
  });

  it('turns a throwing handler into INTERNAL, and an ApiError into its own code', async () => {
    const handlers = {
      'app.info': () => {
        throw new Error('boom');
      },
      'app.ping': () => {
        throw new ApiError(ErrorCode.Unavailable, 'not now');
      },
    } as unknown as Handlers;
    const errors: string[] = [];
    const local = new Dispatcher(handlers, { onInternalError: (method) => errors.push(method) });
    expect(await local.handle({ id: 1, method: 'app.info' }, ctx)).toEqual({ id: 1, error: { code: ErrorCode.Internal, message: 'app.info failed: boom' } });
    expect(await local.handle({ id: 2, method: 'app.ping' }, ctx)).toEqual({ id: 2, error: { code: ErrorCode.Unavailable, message: 'not now' } });
    expect(errors).toEqual(['app.info']);
  });

  it('refuses a handler result that breaks the contract', async () => {
    const handlers = { 'app.ping': () => ({ nonce: 5 }) } as unknown as Handlers;
    const reply = await new Dispatcher(handlers, { onInternalError: () => undefined }).handle({ id: 1, method: 'app.ping' }, ctx);
    expect(reply).toMatchObject({ error: { code: ErrorCode.Internal } });
  });

  it('rejects invalid UTF-8 bytes with PARSE_ERROR', async () => {
    const reply = await dispatcher.handleRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), ctx);
    expect(reply).toMatchObject({ error: { code: ErrorCode.ParseError } });
  });

  it('answers thousands of random messages with a reply and never throws (property)', async () => {
    const method = fc.oneof(fc.constantFrom('app.info', 'app.ping', 'sharing.get', 'sharing.set', 'nope', ''), fc.string());
    const message = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)), method, params: fc.anything() }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(message, async (text) => {
        const reply = await dispatcher.handleRaw(text, ctx);
        expect(typeof reply).toBe('object');
        expect('result' in reply || 'error' in reply).toBe(true);
        if ('error' in reply) expect(Object.values(ErrorCode)).toContain(reply.error.code);
      }),
      { numRuns: 3000 },
    );
  });
});
