import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry, freePort } from '@mlpipe/runtime';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { buildEdge } from '../src/edge';
import { ReplicaPool } from '../src/adapters/replicaPool';

const logger = createLogger('replicas-test', 'silent');
const root = resolve(import.meta.dirname, '../../..');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;

describe('gateway edge over model replica processes', () => {
  let live: LiveRegistry<RunningRegistry>;
  const replicas: { url: string; child: ChildProcess }[] = [];
  let edge: FastifyInstance;
  let replicaPool: ReplicaPool;

  const startReplica = async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
      cwd: root,
      env: { ...process.env, BUS_NAMESPACE: live.bus.namespace, REGISTRY_URL: live.url, HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const url = `http://127.0.0.1:${port}`;
    await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `replica on ${port}`);
    replicas.push({ url, child });
    return url;
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    await live.publishModel('job-r', createModel('cnn-small', { seed: 3 }), { accuracy: 0.1 }); // untrained is enough to serve
    await live.waitForChampion();
    const urls = [await startReplica(), await startReplica()];
    replicaPool = new ReplicaPool(urls, 3000, 500);
    edge = buildEdge({ pool: replicaPool, metrics: createMetricsRegistry('e'), logger, isReady: () => true });
  }, 180_000);

  afterAll(async () => {
    replicaPool?.stop();
    for (const r of replicas) r.child.kill('SIGKILL');
    await edge?.close();
    await live?.close();
  });

  const predict = (i: number) =>
    edge.inject({ method: 'POST', url: '/predict', payload: { pixels: Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS)), range: 'byte' } });

  it('spreads requests over the replicas and passes their answers and errors through', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => predict(i)));
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    expect(answers[0]?.json()).toMatchObject({ model: 'mnist', version: 1 });
    expect(new Set(answers.map((a) => a.headers['x-mlpipe-replica'])).size).toBe(2);
    const bad = await edge.inject({ method: 'POST', url: '/v2/models/mnist/infer', payload: { inputs: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/exactly one input/);
    expect((await edge.inject({ method: 'GET', url: '/v2/models/mnist' })).json()).toMatchObject({ versions: ['1'] });
  });

  it('drains a replica on SIGTERM under load: it exits cleanly and no request fails', async () => {
    const url = await startReplica();
    const drained = replicas.at(-1)!;
    const edgeOver = new ReplicaPool([replicas[0]!.url, url], 3000, 500);
    const app = buildEdge({ pool: edgeOver, metrics: createMetricsRegistry('e2'), logger, isReady: () => true });
    const exited = new Promise<number | null>((done) => drained.child.once('exit', (code) => done(code)));
    const statuses: number[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < 200) {
        const i = sent++;
        if (i === 50) drained.child.kill('SIGTERM');
        const res = await app.inject({ method: 'POST', url: '/predict', payload: { pixels: Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS)), range: 'byte' } });
        statuses.push(res.statusCode);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await exited).toBe(0);
    edgeOver.stop();
    await app.close();
  });

  it('loses no request when a replica is killed under load', async () => {
    const statuses: number[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < 240) {
        const i = sent++;
        if (i === 60) replicas[0]!.child.kill('SIGKILL');
        statuses.push((await predict(i % 500)).statusCode);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(statuses).toHaveLength(240);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(replicaPool.healthyCount()).toBe(1);
  });

  it('answers 503 with a reason when no replica is left', async () => {
    replicas[1]!.child.kill('SIGKILL');
    await eventually(() => fetch(`${replicas[1]!.url}/readyz`).then(() => false, () => true), 10_000);
    const res = await predict(0);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toMatch(/no model replica could answer/);
    expect((await edge.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(503);
  });
});
