import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { eventually } from '@mlpipe/common';
import { VariantTotalsSchema, variantCountsOf, type VariantCounts } from '@mlpipe/contracts';
import { createLogger, createMetricsRegistry, freePort } from '@mlpipe/runtime';
import { createModel, initBackend } from '@mlpipe/ml';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { buildUi } from '../src/app';

const root = resolve(import.meta.dirname, '../../..');

/**
 * The registry page's live traffic where the demo and the chart run it: the UI's GATEWAY_URL is the
 * edge, and the counters live on the model replicas behind it. Real processes throughout: two
 * gateway replicas (canary 50 %, shadow on) and an edge over them, each started from main.ts.
 */
describe('live variant shares through the gateway edge', () => {
  let live: LiveRegistry<RunningRegistry>;
  const children: ChildProcess[] = [];
  const replicas: string[] = [];
  const replicaProcesses: ChildProcess[] = [];
  let edgeUrl: string;
  let uiOverEdge: FastifyInstance;
  let uiOverReplica: FastifyInstance;
  const viewer = { authorization: '' };

  /** A gateway process from main.ts, ready; gRPC off so several share a host. */
  const startGateway = async (env: Record<string, string>) => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
      cwd: root,
      env: { ...process.env, BUS_NAMESPACE: live.bus.namespace, REGISTRY_URL: live.url, HTTP_PORT: String(port), GATEWAY_GRPC_PORT: '0', LOG_LEVEL: 'warn', ...env },
      stdio: 'ignore',
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 90_000, `gateway on ${port}`);
    return { url, child };
  };
  const uiOver = (gatewayUrl: string) =>
    buildUi({ gatewayUrl, registryUrl: live.url, store: live.store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('ui-traffic'), logger: createLogger('ui-traffic', 'silent'), auth: { cacheMs: 0 } });
  const traffic = async (ui: FastifyInstance) => {
    const res = await ui.inject({ url: '/api/models/mnist/traffic', headers: viewer });
    expect(res.statusCode).toBe(200);
    return res.json();
  };
  /** What one replica counted for mnist, read from its own /metrics. */
  const countedBy = async (replica: string): Promise<VariantCounts> => variantCountsOf(await (await fetch(`${replica}/metrics`)).text()).mnist ?? { requests: {}, shadow: { agree: 0, disagree: 0 } };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    viewer.authorization = `Bearer ${(await live.registry.tokens.create('vic', 'viewer')).token}`;
    // Untrained models serve as well as trained ones here: only which variant answered matters.
    await live.publishModel('job-a', createModel('cnn-small', { seed: 3 }), { accuracy: 0.1 });
    await live.waitForChampion();
    await live.publishModel('job-b', createModel('cnn-small', { seed: 4 }), { accuracy: 0.2 });
    await eventually(async () => (await live.registry.app.inject({ method: 'GET', url: '/models/mnist' })).json().versionList?.length === 2, 30_000, 'two versions');
    const admin = `Bearer ${(await live.registry.tokens.create('ada', 'admin')).token}`;
    for (const [alias, version] of [['champion', 1], ['challenger', 2]] as const) {
      const moved = await live.registry.app.inject({ method: 'POST', url: `/models/mnist/aliases/${alias}`, headers: { authorization: admin }, payload: { version, reason: 'traffic test' } });
      expect(moved.statusCode).toBe(200);
    }
    const split = { CANARY_SHARE: '0.5', SHADOW_CHALLENGER: 'true' };
    const [a, b] = await Promise.all([startGateway(split), startGateway(split)]);
    replicas.push(a.url, b.url);
    replicaProcesses.push(a.child, b.child);
    edgeUrl = (await startGateway({ MODEL_REPLICAS: replicas.join(',') })).url;
    uiOverEdge = await uiOver(edgeUrl);
    uiOverReplica = await uiOver(replicas[0]!);
  }, 240_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await uiOverEdge?.close();
    await uiOverReplica?.close();
    await live?.close();
  });

  it('sums both replicas\' counters, names them, and a single replica still reads its own', async () => {
    // Given 60 predictions through the edge, split between champion and challenger on both replicas
    const pixels = Array.from({ length: 784 }, (_, i) => (i * 7) % 256);
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${edgeUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels, range: 'byte' }) });
      expect(res.status).toBe(200);
    }
    // Each champion answer is shadowed by the challenger after it returns: wait until every shadow is counted.
    const [a, b] = (await eventually(async () => {
      const counts = await Promise.all(replicas.map(countedBy));
      return counts.every((c) => c.shadow.agree + c.shadow.disagree === (c.requests.champion ?? 0)) ? counts : undefined;
    }, 30_000, 'every shadow prediction counted')) as [VariantCounts, VariantCounts];
    for (const c of [a, b]) {
      expect(c.requests.champion, 'each replica answered as champion').toBeGreaterThan(0);
      expect(c.requests.challenger, 'each replica answered as challenger').toBeGreaterThan(0);
    }
    const sum = (v: 'champion' | 'challenger') => (a.requests[v] ?? 0) + (b.requests[v] ?? 0);
    expect(sum('champion') + sum('challenger')).toBe(60);

    // When the UI's gateway is the edge, the page gets the sum of both
    const view = await traffic(uiOverEdge);
    expect(view).toMatchObject({ available: true, requests: { champion: sum('champion'), challenger: sum('challenger') }, missing: [] });
    expect([...view.replicas].sort()).toEqual([...replicas].sort());
    expect(view.shares.challenger).toBeCloseTo(sum('challenger') / 60, 10);
    expect(view.shadow.agree + view.shadow.disagree).toBe(sum('champion'));
    expect(view.shadow.agree).toBe(a.shadow.agree + b.shadow.agree);
    // and the edge's own answer is the contract's shape
    expect(VariantTotalsSchema.parse(await (await fetch(`${edgeUrl}/metrics/variants`)).json()).models.mnist?.requests).toEqual({ champion: sum('champion'), challenger: sum('challenger') });

    // When the UI's gateway is one replica, it shows that replica's counts, as before
    expect(await traffic(uiOverReplica)).toMatchObject({ available: true, requests: a.requests, replicas: [replicas[0]], missing: [] });
  }, 120_000);

  it('a replica that is down is reported by name, and the others still count', async () => {
    const alive = await countedBy(replicas[0]!);
    replicaProcesses[1]!.kill('SIGKILL');
    await eventually(() => fetch(`${replicas[1]}/healthz`).then(() => false, () => true), 15_000, 'replica b gone');
    const view = await traffic(uiOverEdge);
    expect(view).toMatchObject({ available: true, requests: alive.requests, replicas: [replicas[0]], missing: [{ replica: replicas[1], reason: 'unreachable' }] });
    // With every replica gone, the page says so rather than showing zeros
    replicaProcesses[0]!.kill('SIGKILL');
    await eventually(() => fetch(`${replicas[0]}/healthz`).then(() => false, () => true), 15_000, 'replica a gone');
    const none = await traffic(uiOverEdge);
    expect(none.available).toBe(false);
    expect(none.reason).toMatch(/^no model replica behind the gateway answered/);
    expect(none.reason).toContain(`${replicas[1]}: unreachable`);
  }, 60_000);
});
