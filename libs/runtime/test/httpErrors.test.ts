import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { ConfigError, ConflictError, NotFoundError, QuotaExceededError, TransientError, ValidationError } from '@mlpipe/common';
import { httpErrorHandler, httpErrorReply } from '@mlpipe/runtime';

describe('httpErrorReply', () => {
  it('maps the error hierarchy to one status each, and hides what is not the client’s business', () => {
    expect(httpErrorReply(new ValidationError('label: too big'))).toEqual({ status: 400, body: { error: 'label: too big', code: 'invalid' } });
    expect(httpErrorReply(new NotFoundError('no run x'))).toEqual({ status: 404, body: { error: 'no run x', code: 'not_found' } });
    expect(httpErrorReply(new ConflictError('job is done'))).toEqual({ status: 409, body: { error: 'job is done', code: 'conflict' } });
    expect(httpErrorReply(new QuotaExceededError('ann has 2 jobs'))).toEqual({ status: 429, body: { error: 'ann has 2 jobs', code: 'quota_exceeded' } });
    expect(httpErrorReply(new TransientError('nats down'))).toEqual({ status: 503, body: { error: 'nats down', code: 'transient' } });
    expect(httpErrorReply(new TransientError('queue full', { code: 'overloaded', retryAfterSeconds: 1 }))).toEqual({ status: 503, body: { error: 'queue full', code: 'overloaded' } });
    expect(httpErrorReply(new ConfigError('secret path /etc/x'))).toEqual({ status: 500, body: { error: 'internal error', code: 'internal' } });
    expect(httpErrorReply(new Error('pg password wrong'))).toEqual({ status: 500, body: { error: 'internal error', code: 'internal' } });
    expect(httpErrorReply(Object.assign(new Error('Body is too large'), { statusCode: 413 }))).toEqual({ status: 413, body: { error: 'Body is too large', code: 'invalid' } });
  });
});

describe('httpErrorHandler plugin', () => {
  it('applies to routes registered after it, schema errors included, and answers unknown routes', async () => {
    const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(httpErrorHandler);
    app.get('/n/:n', { schema: { params: z.object({ n: z.coerce.number().int() }) } }, async (req) => {
      if (req.params.n === 1) throw new ConflictError('already there');
      if (req.params.n === 3) throw new TransientError('queue full', { code: 'overloaded', retryAfterSeconds: 0.2 });
      if (req.params.n === 4) throw new TransientError('nats down');
      throw new Error('internal detail');
    });
    await app.register(async (child) => child.get('/child', async () => { throw new ValidationError('bad child'); }));

    const bad = await app.inject({ method: 'GET', url: '/n/x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid', error: expect.stringMatching(/n/) });
    expect((await app.inject({ method: 'GET', url: '/n/1' })).json()).toEqual({ error: 'already there', code: 'conflict' });
    const hidden = await app.inject({ method: 'GET', url: '/n/2' });
    expect([hidden.statusCode, hidden.body.includes('internal detail')]).toEqual([500, false]);
    expect((await app.inject({ method: 'GET', url: '/child' })).statusCode).toBe(400);
    // A 503 that knows when to come back says so (whole seconds, at least 1); one that does not, says nothing.
    const busy = await app.inject({ method: 'GET', url: '/n/3' });
    expect([busy.statusCode, busy.headers['retry-after'], busy.json()]).toEqual([503, '1', { error: 'queue full', code: 'overloaded' }]);
    const down = await app.inject({ method: 'GET', url: '/n/4' });
    expect([down.statusCode, down.headers['retry-after']]).toEqual([503, undefined]);
    expect((await app.inject({ method: 'GET', url: '/nope?x=1' })).json()).toEqual({ error: 'no route GET /nope', code: 'not_found' });
    await app.close();
  });
});
