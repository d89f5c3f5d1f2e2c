import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, mulberry32 } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { PredictionRecordSchema, storeKeys } from '@mlpipe/contracts';
import { createModel, evaluateModel, initBackend, trainModel, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import type { Registry } from 'prom-client';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';
import { routeRequest } from '../src/core/traffic';

const logger = createLogger('traffic-test', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const sample = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));
const metricValue = async (metrics: Registry, name: string, labels: Record<string, string>) =>
  (await metrics.getMetricsAsJSON()).find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;

describe('routing: canary share and shadow', () => {
  it('sends the canary share to the challenger and shadows only champion answers', () => {
    expect(routeRequest({ canaryShare: 0.1, shadow: true }, 0.05)).toEqual({ serve: 'challenger', shadow: null });
    expect(routeRequest({ canaryShare: 0.1, shadow: true }, 0.5)).toEqual({ serve: 'champion', shadow: 'challenger' });
    expect(routeRequest({ canaryShare: 0, shadow: false }, 0)).toEqual({ serve: 'champion', shadow: null });
  });
});

describe('champion/challenger at the gateway, against a real registry', () => {
  let live: LiveRegistry<RunningRegistry>;
  const gateways: RunningGateway[] = [];

  const registerModel = async (jobId: string, seed: number) => {
    const train = { images: images.slice(2000 * PIXELS, 4000 * PIXELS), labels: labels.slice(2000, 4000), count: 2000 };
    const model = createModel('cnn-small', { seed });
    await trainModel(model, { train }, { epochs: 1, batchSize: 32, seed });
    await live.publishModel(jobId, model, evaluateModel(model, { images: images.subarray(0, 500 * PIXELS), labels: labels.subarray(0, 500), count: 500 }));
    model.dispose();
  };
  const setAlias = async (alias: string, version: number) => {
    // Moving an alias is an admin's act (issue 13).
    const admin = (await live.registry.tokens.create('traffic-test', 'admin')).token;
    const r = await live.registry.app.inject({ method: 'POST', url: `/models/mnist/aliases/${alias}`, headers: { authorization: `Bearer ${admin}` }, payload: { version, reason: 'test' } });
    expect(r.statusCode).toBe(200);
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry, { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0 });
    await registerModel('job-a', 1);
    await live.waitForChampion();
    await registerModel('job-b', 2);
    await eventually(async () => (await live.registry.app.inject({ method: 'GET', url: '/models/mnist' })).json().versionList?.length === 2, 20_000);
    await setAlias('champion', 1);
    await setAlias('challenger', 2);
  }, 120_000);
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await live.close();
  });

  it('answers about the canary share of requests with the challenger, and says which variant answered', async () => {
    const metrics = createMetricsRegistry('canary');
    const gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics, traffic: { canaryShare: 0.2, shadow: false }, random: mulberry32(7) });
    gateways.push(gateway);
    const served: number[] = [];
    for (let i = 0; i < 400; i++) {
      const res = (await gateway.app.inject({ method: 'POST', url: '/predict', payload: { pixels: sample(i), range: 'byte' } })).json();
      expect(res.variant).toBe(res.version === 2 ? 'challenger' : 'champion');
      served.push(res.version as number);
    }
    const share = served.filter((v) => v === 2).length / served.length;
    expect(share).toBeGreaterThan(0.14);
    expect(share).toBeLessThan(0.26);
    expect(await metricValue(metrics, 'mlpipe_variant_requests_total', { variant: 'challenger' })).toBe(served.filter((v) => v === 2).length);
    // Every HTTP route is counted and timed (probes and scrapes are not).
    const http = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_http_request_duration_seconds')?.values ?? [];
    const predicts = http.find((v) => (v as { metricName?: string }).metricName === 'mlpipe_http_request_duration_seconds_count' && v.labels.route === '/predict' && v.labels.status === '200');
    expect(predicts?.value).toBe(400);
    await gateway.app.inject({ method: 'GET', url: '/healthz' });
    expect(JSON.stringify(await metrics.getMetricsAsJSON())).not.toContain('"route":"/healthz"');
    // Naming a version or alias bypasses the split.
    const named = (await gateway.app.inject({ method: 'POST', url: '/predict', payload: { model: 'mnist@champion', pixels: sample(1), range: 'byte' } })).json();
    expect(named).toMatchObject({ version: 1, variant: 'named' });
    const oip = (await gateway.app.inject({ method: 'POST', url: '/v2/models/mnist/infer', payload: { inputs: [{ name: 'image', shape: [1, 28, 28], datatype: 'UINT8', data: sample(2) }] } })).json();
    expect(['champion', 'challenger']).toContain(oip.parameters.variant);
  }, 60_000);

  it('shadow mode: the challenger scores every request, its answer is logged and sampled, never returned', async () => {
    const metrics = createMetricsRegistry('shadow');
    const gateway = startGateway({
      registryUrl: live.url,
      bus: live.bus,
      logger,
      metrics,
      traffic: { canaryShare: 0, shadow: true },
      sampling: { store: live.store, share: 1, flushMs: 60_000 },
    });
    gateways.push(gateway);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = (await gateway.app.inject({ method: 'POST', url: '/predict', payload: { pixels: sample(100 + i), range: 'byte' } })).json();
      expect(res).toMatchObject({ version: 1, variant: 'champion' });
      expect(JSON.stringify(res)).not.toContain('"version":2');
      ids.push(res.predictionId as string);
    }
    await eventually(async () => {
      const agree = await metricValue(metrics, 'mlpipe_shadow_predictions_total', { agree: 'true' });
      const disagree = await metricValue(metrics, 'mlpipe_shadow_predictions_total', { agree: 'false' });
      return agree + disagree === 30 || undefined;
    }, 10_000, 'every request shadowed');
    await gateway.flushPredictions();
    const objects = await live.store.list(storeKeys.predictionLogDir('mnist'));
    const records = (await Promise.all(objects.map(async (o) => new TextDecoder().decode(await live.store.get(o.key)))))
      .flatMap((text) => text.trim().split('\n'))
      .map((line) => PredictionRecordSchema.parse(JSON.parse(line)));
    const mine = records.filter((r) => ids.includes(r.predictionId));
    expect(mine.filter((r) => r.variant === 'champion' && r.version === 1)).toHaveLength(30);
    expect(mine.filter((r) => r.variant === 'shadow' && r.version === 2)).toHaveLength(30);
    expect(Buffer.from(mine[0]!.input28, 'base64')).toHaveLength(784);

    // Lineage: from a prediction id to the version, its run, code and data, and the gate's word.
    const lineage = await live.registry.app.inject({ method: 'GET', url: `/lineage/predictions/${ids[3]}` });
    expect(lineage.statusCode).toBe(200);
    expect(lineage.json()).toMatchObject({
      prediction: { predictionId: ids[3], model: 'mnist', version: 1, variant: 'champion' },
      modelVersion: { version: 1 },
      run: { runId: 'job-a', codeVersion: 'test', datasetVersion: 'f'.repeat(64), status: 'finished' },
      gate: { outcome: 'champion' },
    });
    const unknown = await live.registry.app.inject({ method: 'GET', url: '/lineage/predictions/no-such-prediction' });
    expect(unknown.statusCode).toBe(404);
    expect(JSON.stringify(unknown.json())).toMatch(/no sampled prediction/);
  }, 60_000);
});
