import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { PIXELS } from '@mlpipe/contracts';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { buildUi } from '../../services/ui/src/app';

const logger = createLogger('ui-attack', 'silent');

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  json<T = { error: string; code: string }>(): T;
}

/** One raw HTTP request: the path goes out exactly as written (fetch would resolve its dot segments first). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const url = new URL(base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) }));
    });
    req.on('error', fail);
    req.end(payload);
  });
}

/** A browser's cookie jar, reduced to what the UI sets: name=value pairs. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(a: Answer): Answer {
    for (const c of [a.headers['set-cookie'] ?? []].flat()) {
      const [pair] = c.split(';');
      const [name, ...value] = pair!.split('=');
      if (value.join('=') === '') this.cookies.delete(name!);
      else this.cookies.set(name!, value.join('='));
    }
    return a;
  }
  get header(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

const correction = { pixels: Array(PIXELS).fill(0), label: 3 };

/**
 * The web UI under attack, on real ports: a real registry (tokens in its PostgreSQL, checked over
 * HTTP by the UI), real NATS for the jobs routes, and the UI with small limits so they are cheap to hit.
 */
describe('the web UI: session cookie, CSRF, roles, proxied paths, stream cap and rate limits', () => {
  let live: LiveRegistry<RunningRegistry>;
  let ui: FastifyInstance;
  let base = '';
  const token: Record<'viewer' | 'operator' | 'other', string> = { viewer: '', operator: '', other: '' };

  /** Signs in as a browser would: the CSRF token from /api/session, then the token posted once. */
  async function signIn(t: string): Promise<{ jar: Jar; csrf: string; answer: Answer }> {
    const jar = new Jar();
    const session = jar.take(await raw(base, 'GET', '/api/session'));
    const csrf = session.json<{ csrfToken: string }>().csrfToken;
    const answer = jar.take(await raw(base, 'POST', '/api/login', { ...jar.header, 'x-csrf-token': csrf }, { token: t }));
    return { jar, csrf, answer };
  }

  beforeAll(async () => {
    live = await startLiveRegistry(startRegistry);
    token.viewer = (await live.registry.tokens.create('vera', 'viewer')).token;
    token.operator = (await live.registry.tokens.create('oscar', 'operator')).token;
    token.other = (await live.registry.tokens.create('otto', 'operator')).token;
    ui = await buildUi({
      bus: live.bus, gatewayUrl: 'http://127.0.0.1:9', registryUrl: live.url, store: live.store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('ui-attack'), logger,
      auth: { cacheMs: 0 },
      limits: { sseMaxConnections: 2, feedbackRateMax: 3, jobsRateMax: 1, rateWindowMs: 60_000 },
    });
    base = await ui.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await ui?.close();
    await live?.close();
  });

  it('turns a token into an HttpOnly, SameSite=Strict session cookie, and refuses a bad token', async () => {
    const { jar, answer } = await signIn(token.operator);
    expect(answer.status).toBe(200);
    const cookie = [answer.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('mlpipe_session='));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(answer.json()).toMatchObject({ principal: { name: 'oscar', role: 'operator', via: 'token' }, can: { read: true, operate: true, administer: false } });
    const session = await raw(base, 'GET', '/api/session', jar.header);
    expect(session.json()).toMatchObject({ principal: { name: 'oscar' } });
    // The CSRF secret cookie is HttpOnly and SameSite=Strict too.
    const csrfCookie = [(await raw(base, 'GET', '/api/session')).headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('mlpipe_csrf='));
    expect(csrfCookie).toMatch(/HttpOnly/);
    expect(csrfCookie).toMatch(/SameSite=Strict/);

    const bad = await signIn('mlp_00000000_' + 'A'.repeat(43));
    expect(bad.answer.status).toBe(401);
    expect(bad.answer.json()).toEqual({ error: 'sign-in refused: the token is unknown or revoked', code: 'unauthorized' });
    expect(bad.jar.has('mlpipe_session')).toBe(false);
  });

  it('refuses a cross-site POST without the CSRF token (403), even with a valid session cookie', async () => {
    const { jar, csrf } = await signIn(token.operator);
    const before = (await live.store.list('incoming/')).length;
    const forged = await raw(base, 'POST', '/api/feedback', { ...jar.header, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, correction);
    expect(forged.status).toBe(403);
    expect(forged.json().code).toBe('forbidden');
    const wrong = await raw(base, 'POST', '/api/feedback', { ...jar.header, 'x-csrf-token': 'not-the-token' }, correction);
    expect(wrong.status).toBe(403);
    expect((await live.store.list('incoming/')).length).toBe(before);
    // The same request from the UI's own page (with the token) is stored, credited to the signed-in user.
    const own = await raw(base, 'POST', '/api/feedback', { ...jar.header, 'x-csrf-token': csrf }, correction);
    expect(own.status).toBe(200);
    expect((await live.store.list('incoming/')).length).toBeGreaterThan(before);
    // Logging in is a POST as well: a login forced from another site is refused.
    expect((await raw(base, 'POST', '/api/login', {}, { token: token.operator })).status).toBe(403);
  });

  it('checks the role of every /api route: anonymous and viewers may read, only operators write', async () => {
    const anonymous = await raw(base, 'GET', '/api/session');
    const csrf = anonymous.json<{ csrfToken: string }>().csrfToken;
    const jar = new Jar();
    jar.take(anonymous);
    const anonFeedback = await raw(base, 'POST', '/api/feedback', { ...jar.header, 'x-csrf-token': csrf }, correction);
    expect(anonFeedback.status).toBe(401);
    expect(anonFeedback.json().error).toMatch(/needs role operator/);
    // An anonymous read reaches the registry (which has no such experiment yet: its own 404, passed on).
    expect((await raw(base, 'GET', '/api/registry/experiments/mnist/runs')).json()).toEqual({ error: 'no experiment mnist', code: 'not_found' });

    const viewer = await signIn(token.viewer);
    const refused = await raw(base, 'POST', '/api/feedback', { ...viewer.jar.header, 'x-csrf-token': viewer.csrf }, correction);
    expect(refused.status).toBe(403);
    expect(refused.json()).toEqual({ error: 'vera has role viewer; this needs operator', code: 'forbidden' });
    const cancel = await raw(base, 'POST', '/api/jobs/job-1/cancel', { ...viewer.jar.header, 'x-csrf-token': viewer.csrf }, {});
    expect(cancel.status).toBe(403);
    // A viewer's read passes the guard and reaches NATS (no orchestrator runs here: no responder, 503).
    const jobs = await raw(base, 'GET', '/api/jobs', viewer.jar.header);
    expect(jobs.status).toBe(503);
    expect(jobs.json().code).toBe('transient');
  });

  it('ends a session when its token is revoked, and on logout', async () => {
    const doomed = (await live.registry.tokens.create('dora', 'operator'));
    const { jar, csrf } = await signIn(doomed.token);
    expect((await raw(base, 'GET', '/api/session', jar.header)).json()).toMatchObject({ principal: { name: 'dora' } });
    await live.registry.tokens.revoke(doomed.record.id);
    const after = await raw(base, 'POST', '/api/feedback', { ...jar.header, 'x-csrf-token': csrf }, correction);
    expect(after.status).toBe(401);

    const { jar: j2, csrf: c2 } = await signIn(token.operator);
    const out = j2.take(await raw(base, 'POST', '/api/logout', { ...j2.header, 'x-csrf-token': c2 }, {}));
    expect(out.status).toBe(200);
    expect(j2.has('mlpipe_session')).toBe(false);
    expect((await raw(base, 'GET', '/api/session', j2.header)).json()).toMatchObject({ principal: null });
  });

  it('answers proxied paths with dot segments or encoded slashes with 400 and the reason', async () => {
    const viewer = { authorization: `Bearer ${token.viewer}` };
    const cases: [string, RegExp][] = [
      ['/api/registry/runs/../metrics', /"\." or "\.\." segment/],
      ['/api/registry/runs/./metrics', /"\." or "\.\." segment/],
      ['/api/registry/runs/%2e%2e/metrics', /"\." or "\.\." segment \(after 1 round/],
      ['/api/registry/runs/%252e%252e/metrics', /"\." or "\.\." segment \(after 2 rounds/],
      ['/api/registry/runs/job%2f..%2fx/metrics', /encoded slash or backslash/],
      ['/api/registry/runs/job%252fx/metrics', /encoded slash or backslash \(after 1 round/],
      ['/api/registry/runs/job%5cx/metrics', /encoded slash or backslash/],
      ['/api/registry/runs/job\\..\\x/metrics', /backslash/],
      ['/api/models/%zz', /not a valid url|malformed percent-encoding/i],
    ];
    for (const [path, reason] of cases) {
      const res = await raw(base, 'GET', path, viewer);
      expect(res.status, path).toBe(400);
      expect(res.json().code, path).toBe('invalid');
      expect(res.json().error, path).toMatch(reason);
    }
    // A plain path still gets through to the registry (no run: its 404, passed on).
    expect((await raw(base, 'GET', '/api/registry/runs/job-1.a/metrics', viewer)).json()).toEqual({ error: 'no run job-1.a', code: 'not_found' });
  });

  it('caps live job streams: past the cap 503 with the reason, and a closed stream frees its slot', async () => {
    const open: IncomingMessage[] = [];
    const stream = () =>
      new Promise<IncomingMessage>((done, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port: new URL(base).port, path: '/api/jobs/events', headers: { authorization: `Bearer ${token.viewer}` } }, done);
        req.on('error', fail);
        req.end();
      });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await stream();
        expect(res.statusCode).toBe(200);
        open.push(res);
      }
      expect((await raw(base, 'GET', '/metrics')).body).toMatch(/^mlpipe_ui_live_streams{service="ui-attack"} 2$/m);
      const third = await stream();
      let text = '';
      for await (const chunk of third) text += (chunk as Buffer).toString();
      expect(third.statusCode).toBe(503);
      expect(JSON.parse(text)).toEqual({ error: 'too many live job streams (2 open); close another tab or try again later', code: 'transient' });
      open.shift()!.destroy();
      await expect.poll(async () => {
        const next = await stream();
        if (next.statusCode === 200) open.push(next);
        else next.resume();
        return next.statusCode;
      }, { timeout: 5000 }).toBe(200);
    } finally {
      for (const s of open) s.destroy();
    }
  });

  it('rate-limits feedback and job submissions per principal with 429 and the reason', async () => {
    const oscar = { authorization: `Bearer ${token.operator}` };
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 5; i++) {
      last = await raw(base, 'POST', '/api/feedback', oscar, correction);
      statuses.push(last.status);
    }
    // Oscar posted once in the CSRF test (the same window): two more, then refused.
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    expect(last!.json()).toEqual({ error: expect.stringMatching(/^too many requests: at most 3 per 1 minute; try again in \d+ s$/), code: 'rate_limited' });
    expect(last!.headers['retry-after']).toBeDefined();
    // Another principal has an allowance of its own.
    expect((await raw(base, 'POST', '/api/feedback', { authorization: `Bearer ${token.other}` }, correction)).status).toBe(200);

    // Job submissions: the first reaches the orchestrator (none runs here: 503), the second is refused before it.
    const first = await raw(base, 'POST', '/api/jobs', oscar, { hyperparams: { epochs: 1 } });
    expect(first.status).not.toBe(429);
    const second = await raw(base, 'POST', '/api/jobs', oscar, { hyperparams: { epochs: 1 } });
    expect(second.status).toBe(429);
    expect(second.json().code).toBe('rate_limited');
  });
});
