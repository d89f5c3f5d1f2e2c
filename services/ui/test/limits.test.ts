import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { createAuthGuard } from '@mlpipe/auth';
import { httpErrorHandler } from '@mlpipe/runtime';
import { describeWindow, rateLimitConfig, registerRateLimits } from '../src/limits';

describe('rate-limit refusals name the configured window', () => {
  it('says the window in words', () => {
    expect(describeWindow(60_000)).toBe('1 minute');
    expect(describeWindow(300_000)).toBe('5 minutes');
    expect(describeWindow(1_000)).toBe('1 second');
    expect(describeWindow(1_500)).toBe('2 seconds');
  });

  it('names the whole window, not what is left of it, after time has passed in it', async () => {
    const app = Fastify();
    await app.register(httpErrorHandler);
    const guard = createAuthGuard({ resolve: async () => ({ problem: 'none' }), anonymousRole: 'viewer', credentialOf: () => undefined });
    await registerRateLimits(app, guard);
    app.get('/x', { onRequest: guard.requireRole('viewer'), config: rateLimitConfig(1, 60_000) }, async () => 'ok');
    expect((await app.inject({ url: '/x' })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const refused = await app.inject({ url: '/x' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatch(/^too many requests: at most 1 per 1 minute; try again in \d+ s$/);
    await app.close();
  });
});
