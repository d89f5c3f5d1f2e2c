import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { buildUi } from '../src/app';

/** The UI's registry routes against a real registry: only allow-listed views, checked artefact names, alias moves for admins only. */
describe("the UI's registry routes", () => {
  let live: LiveRegistry<RunningRegistry>;
  let ui: FastifyInstance;
  const bearer: Record<'viewer' | 'admin', { authorization: string }> = { viewer: { authorization: '' }, admin: { authorization: '' } };

  beforeAll(async () => {
    live = await startLiveRegistry(startRegistry);
    bearer.viewer.authorization = `Bearer ${(await live.registry.tokens.create('vic', 'viewer')).token}`;
    bearer.admin.authorization = `Bearer ${(await live.registry.tokens.create('ada', 'admin')).token}`;
    // Port 9 (discard): no gateway answers there.
    ui = await buildUi({ gatewayUrl: 'http://127.0.0.1:9', registryUrl: live.url, store: live.store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('ui-reg'), logger: createLogger('ui-reg', 'silent'), auth: { cacheMs: 0 } });
  }, 120_000);
  afterAll(async () => {
    await ui?.close();
    await live?.close();
  });

  it('forwards the views in its list and refuses every other registry path', async () => {
    const run = await ui.inject({ url: '/api/registry/runs/job-9/registration', headers: bearer.viewer });
    expect(run.statusCode).toBe(404);
    expect(run.json()).toEqual({ error: 'no run job-9', code: 'not_found' });
    expect((await ui.inject({ url: '/api/registry/audit?model=mnist', headers: bearer.viewer })).json()).toEqual({ entries: [] });
    for (const path of ['/api/registry/auth/tokens', '/api/registry/openapi.json', '/api/registry/metrics', '/api/registry/datasets/mnist/versions/abc']) {
      const res = await ui.inject({ url: path, headers: bearer.admin });
      expect(res.statusCode, path).toBe(400);
      expect(res.json().error, path).toBe('not a registry view the UI offers');
    }
  });

  it('downloads only named artefact files', async () => {
    const bad = await ui.inject({ url: '/api/artefacts/mnist/1/secrets', headers: bearer.viewer });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/^not an artefact the UI offers: artefact/);
    const missing = await ui.inject({ url: '/api/artefacts/mnist/1/modelCard', headers: bearer.viewer });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe('model mnist has no version 1');
  });

  it('moves aliases only for admins, with the CSRF token when the session cookie is the credential', async () => {
    const body = { version: 1, reason: 'a test move' };
    const viewer = await ui.inject({ method: 'POST', url: '/api/models/mnist/aliases/champion', headers: bearer.viewer, payload: body });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error).toBe('vic has role viewer; this needs admin');
    // An admin's request reaches the registry, which answers for itself (no such version yet).
    const admin = await ui.inject({ method: 'POST', url: '/api/models/mnist/aliases/champion', headers: bearer.admin, payload: body });
    expect(admin.statusCode).toBe(404);
    expect(admin.json().error).toBe('model mnist has no version 1');
    const bad = await ui.inject({ method: 'POST', url: '/api/models/mnist/aliases/king', headers: bearer.admin, payload: body });
    expect(bad.statusCode).toBe(400);
    const noReason = await ui.inject({ method: 'POST', url: '/api/models/mnist/aliases/champion', headers: bearer.admin, payload: { version: 1 } });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error).toMatch(/^send \{"version": N, "reason": "why"\}: reason/);
    // A browser's cookie without the CSRF token is refused before the role is even looked at.
    const anonymous = await ui.inject({ method: 'POST', url: '/api/models/mnist/aliases/champion', payload: body });
    expect(anonymous.statusCode).toBe(403);
  });

  it("says why there are no live shares when the gateway does not answer", async () => {
    expect((await ui.inject({ url: '/api/models/mnist/traffic', headers: bearer.viewer })).json()).toEqual({ available: false, reason: 'the gateway at http://127.0.0.1:9 did not answer' });
  });
});
