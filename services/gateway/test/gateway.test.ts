import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { createLogger, createMetricsRegistry } from '@mlpipe/common';
import { buildGateway } from '../src/app';

describe('gateway skeleton', () => {
  const registry = Fastify();
  let ready = true;
  let registryUrl = '';
  beforeAll(async () => {
    registry.get('/models', async () => ({ models: [{ name: 'mnist' }] }));
    registryUrl = await registry.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => registry.close());

  it('reports health and readiness in both styles', async () => {
    const app = buildGateway({ registryUrl, metrics: createMetricsRegistry('gateway'), logger: createLogger('t', 'silent'), isReady: () => ready });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/v2/health/ready')).statusCode).toBe(200);
    ready = false;
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    expect((await app.inject('/v2/health/ready')).json()).toEqual({ ready: false });
    expect((await app.inject('/metrics')).body).toMatch(/mlpipe_process_cpu_seconds_total/);
  });

  it('lists models from the registry, and says so when the registry is down', async () => {
    const app = buildGateway({ registryUrl, metrics: createMetricsRegistry('gateway'), logger: createLogger('t', 'silent'), isReady: () => true });
    expect((await app.inject('/models')).json()).toEqual({ models: [{ name: 'mnist' }] });
    const orphan = buildGateway({ registryUrl: 'http://127.0.0.1:1', metrics: createMetricsRegistry('gateway'), logger: createLogger('t', 'silent'), isReady: () => true });
    const res = await orphan.inject('/models');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toMatch(/did not answer/);
  });
});
