import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as tf from '@tensorflow/tfjs';
import { Registry } from 'prom-client';
import { TransientError } from '@mlpipe/common';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { Batcher } from '../src/app/batcher';
import { InferenceMetrics } from '../src/adapters/inferenceMetrics';
import type { LoadedModel } from '../src/adapters/modelCache';
import { tfjsServing } from '../src/adapters/servedModel';

const image = (seed: number) => Uint8Array.from({ length: PIXELS }, (_, p) => (p * 31 + seed * 97) % 256);

describe('the batcher, with a real tfjs model', () => {
  let model: tf.LayersModel;
  let loaded: LoadedModel;
  beforeAll(async () => {
    await initBackend('wasm');
    model = createModel('cnn-small', { seed: 5 });
    loaded = { name: 'mnist', version: 1, testAccuracy: 0.9, ...tfjsServing(model) };
  });
  afterAll(() => model.dispose());

  const batcherWith = (o: { enabled: boolean; maxDelayMs: number; maxBatchSize?: number; maxQueue?: number }) => {
    const registry = new Registry();
    const batcher = new Batcher({ maxBatchSize: 4, maxQueue: 100, ...o, metrics: new InferenceMetrics(registry) });
    const histogram = async () => {
      const values = (await registry.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_inference_batch_size')?.values ?? [];
      const get = (n: string) => values.find((v) => (v as { metricName?: string }).metricName === n)?.value ?? 0;
      return { calls: get('mlpipe_inference_batch_size_count'), images: get('mlpipe_inference_batch_size_sum') };
    };
    return { batcher, histogram };
  };

  it('runs requests that came together as model calls of at most maxBatchSize images, and gives each its own rows', async () => {
    const off = batcherWith({ enabled: false, maxDelayMs: 0 });
    const requests = [[image(1)], [image(2), image(3)], [image(4)], [image(5)], [image(6), image(7), image(8)]];
    const alone = [];
    for (const r of requests) alone.push((await off.batcher.predict(loaded, r)).probabilities);
    expect(await off.histogram()).toEqual({ calls: 5, images: 8 });

    const on = batcherWith({ enabled: true, maxDelayMs: 2000 });
    const started = performance.now();
    const together = await Promise.all(requests.map((r) => on.batcher.predict(loaded, r)));
    expect(together.map((t) => t.probabilities)).toEqual(alone);
    // [1,2,3,4] is full at once; [5,6,7,8] too: neither waits out the 2 s delay.
    expect(await on.histogram()).toEqual({ calls: 2, images: 8 });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('waits the delay for a partial batch, and refuses past the queue bound with an overloaded TransientError', async () => {
    const { batcher, histogram } = batcherWith({ enabled: true, maxDelayMs: 30, maxQueue: 2 });
    const started = performance.now();
    const first = batcher.predict(loaded, [image(1)]);
    const second = batcher.predict(loaded, [image(2)]);
    const third = batcher.predict(loaded, [image(3)]).then(
      () => 'answered',
      (err: unknown) => err,
    );
    const refused = await third;
    expect(refused).toBeInstanceOf(TransientError);
    expect(refused).toMatchObject({ code: 'overloaded', retryAfterSeconds: 1, message: expect.stringMatching(/mnist v1 is busy/) });
    const [a] = await Promise.all([first, second]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(a.seconds).toBeGreaterThanOrEqual(0.029);
    expect(await histogram()).toEqual({ calls: 1, images: 2 });
  });

  it('rejects every request of a batch whose model call fails, and answers what waits when flushed', async () => {
    const broken: LoadedModel = { ...loaded, predict: () => { throw new Error('model disposed'); } };
    const { batcher } = batcherWith({ enabled: true, maxDelayMs: 10_000 });
    const waiting = [batcher.predict(broken, [image(1)]), batcher.predict(broken, [image(2)])].map((p) => p.then(() => 'answered', (e: Error) => e.message));
    const kept = batcher.predict(loaded, [image(3)]);
    await batcher.flush();
    expect(await Promise.all(waiting)).toEqual(['model disposed', 'model disposed']);
    expect((await kept).probabilities).toHaveLength(1);
  });

  it('at concurrency 1 answers at once: after a batch of one request, a lone request does not wait out the delay', async () => {
    const { batcher, histogram } = batcherWith({ enabled: true, maxDelayMs: 60_000 });
    // Given a first request, which (nothing known yet) would wait the minute: flushed, a batch of one
    const first = batcher.predict(loaded, [image(1)]);
    await batcher.flush();
    await first;
    // When the next request comes alone, it is answered without waiting for company
    const lone = batcher.predict(loaded, [image(2)]);
    const outcome = await Promise.race([lone.then(() => 'answered'), new Promise((r) => setTimeout(() => r('still waiting'), 20_000).unref())]);
    expect(outcome).toBe('answered');
    expect((await lone).seconds).toBeLessThan(20);
    expect(await histogram()).toEqual({ calls: 2, images: 2 });
  });
});
