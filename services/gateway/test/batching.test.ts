import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createModel, initBackend, trainModel, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';
import type { BatchPolicy } from '../src/core/batchQueue';

const logger = createLogger('batching-test', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const pixels = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));

/** The batch-size histogram of a registry: model calls, images over all of them, and calls with more than one image. */
async function batchSizes(metrics: Registry) {
  const values = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_inference_batch_size')?.values ?? [];
  const of = (metricName: string, le?: number) =>
    values.filter((v) => (v as { metricName?: string }).metricName === metricName && (le === undefined || v.labels.le === le)).reduce((n, v) => n + v.value, 0);
  const calls = of('mlpipe_inference_batch_size_count');
  return { calls, images: of('mlpipe_inference_batch_size_sum'), larger: calls - of('mlpipe_inference_batch_size_bucket', 1), overMax: (max: number) => calls - of('mlpipe_inference_batch_size_bucket', max) };
}

describe('dynamic batching in a model replica, against a real registry and model', () => {
  let live: LiveRegistry<RunningRegistry>;
  const gateways: RunningGateway[] = [];

  const gatewayWith = async (batching: BatchPolicy & { enabled: boolean }, name: string) => {
    const metrics = createMetricsRegistry(name);
    const gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics, batching });
    gateways.push(gateway);
    const url = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    // Loaded before anything is measured: the first request waits for the registry.
    expect((await fetch(`${url}/v2/models/mnist/ready`)).status).toBe(200);
    return { gateway, metrics, url };
  };
  const predict = async (url: string, i: number) => {
    const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: pixels(i), range: 'byte' }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { probabilities: number[]; class: number }).probabilities;
  };
  const inferThree = async (url: string, first: number) => {
    const data = [...pixels(first), ...pixels(first + 1), ...pixels(first + 2)];
    const res = await fetch(`${url}/v2/models/mnist/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'image', shape: [3, 784], datatype: 'UINT8', data }] }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { outputs: { name: string; data: number[] }[] }).outputs.find((o) => o.name === 'probabilities')!.data;
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry, { GATE_MARGIN: 0, GATE_CLASS_FLOOR: 0 });
    // Trained a little, so different digits get clearly different answers (a row given to the wrong request shows).
    const model = createModel('cnn-small', { seed: 3 });
    await trainModel(model, { train: { images: images.slice(2000 * PIXELS, 3000 * PIXELS), labels: labels.slice(2000, 3000), count: 1000 } }, { epochs: 1, batchSize: 32, seed: 3 });
    await live.publishModel('job-batching', model, { accuracy: 0.5 });
    model.dispose();
    await live.waitForChampion();
  }, 120_000);
  afterAll(async () => {
    for (const g of gateways) {
      await g.stop();
      await g.app.close();
    }
    await live.close();
  });

  it('answers concurrent requests from shared model calls, bit for bit as the same requests one at a time', async () => {
    const off = await gatewayWith({ enabled: false, maxBatchSize: 8, maxDelayMs: 5, maxQueue: 256 }, 'batching-off');
    // A long delay: the first batch's size sets the target of the next ones (core/batchQueue), so it
    // must not close early on a slow first request under load; here each batch fills to 8 or waits for the stragglers.
    const on = await gatewayWith({ enabled: true, maxBatchSize: 8, maxDelayMs: 200, maxQueue: 256 }, 'batching-on');
    const N = 24;

    // Given the answers of the unbatched replica, one request at a time
    const alone: number[][] = [];
    for (let i = 0; i < N; i++) alone.push(await predict(off.url, i));
    const aloneThree = await inferThree(off.url, 100);
    const offSizes = await batchSizes(off.metrics);
    expect(offSizes.larger).toBe(1); // only the three-image request
    // When the same requests reach the batching replica at once (and a three-image OIP request among them)
    const before = await batchSizes(on.metrics);
    const [three, ...together] = await Promise.all([inferThree(on.url, 100), ...Array.from({ length: N }, (_, i) => predict(on.url, i))]);
    // Then every request gets exactly its own rows: same bits, not merely close
    expect(together).toEqual(alone);
    expect(three).toEqual(aloneThree.flat());
    expect(new Set(together.map((p) => p.indexOf(Math.max(...p)))).size).toBeGreaterThan(3); // varied answers, so a swapped row would show
    // And they shared model calls: fewer calls than requests, some with more than one image, none past maxBatchSize
    const after = await batchSizes(on.metrics);
    const calls = after.calls - before.calls;
    expect(after.images - before.images).toBe(N + 3);
    expect(calls).toBeLessThan(N);
    expect(after.larger - before.larger).toBeGreaterThan(0);
    expect(after.overMax(8)).toBe(0);
    // Each request's time in the queue is observed
    const queued = (await on.metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_inference_queue_seconds')?.values.find((v) => (v as { metricName?: string }).metricName === 'mlpipe_inference_queue_seconds_count');
    expect(queued?.value).toBe(N + 1);
  }, 60_000);

  it('refuses past a full queue at once with 503, Retry-After and the reason, in each route\'s error shape, and answers what it queued', async () => {
    // A long delay holds the two queued requests, so the queue is surely full when the others come.
    const tiny = await gatewayWith({ enabled: true, maxBatchSize: 32, maxDelayMs: 1500, maxQueue: 2 }, 'batching-tiny');
    const started = performance.now();
    const queued = [predict(tiny.url, 0), predict(tiny.url, 1)].map((p) => p.then(() => performance.now() - started));
    await new Promise((r) => setTimeout(r, 300));
    const refused = await Promise.all(
      [
        fetch(`${tiny.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: pixels(2), range: 'byte' }) }),
        fetch(`${tiny.url}/v2/models/mnist/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'image', shape: [784], datatype: 'UINT8', data: pixels(3) }] }) }),
      ].map(async (r) => {
        const res = await r;
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error: string; code?: string }, ms: performance.now() - started };
      }),
    );
    for (const r of refused) {
      expect(r).toMatchObject({ status: 503, retryAfter: '1', body: { error: expect.stringMatching(/mnist v1 is busy: 2 requests are waiting .*GATEWAY_BATCH_MAX_QUEUE=2/) } });
      // Not a hang: refused while the queued ones still wait for their batch.
      expect(r.ms).toBeLessThan(1500);
    }
    const answeredAt = await Promise.all(queued);
    for (const ms of answeredAt) expect(ms).toBeGreaterThanOrEqual(1400);
    const full = (await tiny.metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_inference_queue_full_total')?.values[0]?.value;
    expect(full).toBe(2);
    // Once the batch ran, the queue takes requests again.
    expect(await predict(tiny.url, 4)).toHaveLength(10);
  }, 30_000);
});
