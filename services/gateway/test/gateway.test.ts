import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createModel, evaluateModel, initBackend, trainModel, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';

const logger = createLogger('gateway-test', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const sample = (i: number) => images.subarray(i * PIXELS, (i + 1) * PIXELS);

describe('gateway against a real registry, NATS and PostgreSQL', () => {
  let live: LiveRegistry<RunningRegistry>;
  let gateway: RunningGateway;

  /** Trains a small model on MNIST test images 2000.. and registers it through the registry's event path. */
  const registerModel = async (jobId: string, seed: number) => {
    const train = { images: images.slice(2000 * PIXELS, 4000 * PIXELS), labels: labels.slice(2000, 4000), count: 2000 };
    const model = createModel('cnn-small', { seed });
    await trainModel(model, { train }, { epochs: 2, batchSize: 32, seed });
    const ev = evaluateModel(model, { images: images.subarray(0, 500 * PIXELS), labels: labels.subarray(0, 500), count: 500 });
    await live.publishModel(jobId, model, ev);
    model.dispose();
  };
  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, headers?: Record<string, string>) =>
    gateway.app.inject({ method, url, ...(payload !== undefined ? { payload: payload as string } : {}), ...(headers ? { headers } : {}) });

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry, { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.5 });
    gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('g') });
    await registerModel('job-a', 1);
    await live.waitForChampion();
  }, 120_000);

  afterAll(async () => {
    await gateway.stop();
    await live.close();
  });

  it('answers Open Inference Protocol v2 requests', async () => {
    expect((await call('GET', '/v2/health/live')).json()).toEqual({ live: true });
    expect((await call('GET', '/v2')).json()).toMatchObject({ name: 'mlpipe-gateway' });
    expect((await call('GET', '/v2/models/mnist')).json()).toMatchObject({ name: 'mnist', versions: ['1'], platform: 'tensorflowjs' });
    expect((await call('GET', '/models')).json()).toEqual({
      models: [{ name: 'mnist', aliases: { champion: 1 }, versions: [{ version: 1, aliases: ['champion'], testAccuracy: expect.any(Number) }] }],
    });
    expect((await call('GET', '/v2/models/mnist/versions/1/ready')).json()).toEqual({ name: 'mnist', ready: true });
    const data = [...sample(0), ...sample(1), ...sample(2)].map((v) => v / 255);
    const res = await call('POST', '/v2/models/mnist/infer', { id: 'r1', inputs: [{ name: 'image', shape: [3, 28, 28], datatype: 'FP32', data }] });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ model_name: 'mnist', model_version: '1', id: 'r1' });
    expect(body.outputs[0]).toMatchObject({ name: 'probabilities', shape: [3, 10], datatype: 'FP32' });
    expect(body.outputs[1].data).toEqual([labels[0], labels[1], labels[2]]);
    const byVersion = await call('POST', '/v2/models/mnist/versions/1/infer', { inputs: [{ name: 'image', shape: [784], datatype: 'UINT8', data: Array.from(sample(0)) }] });
    expect(byVersion.json().outputs[1].data).toEqual([labels[0]]);
    const metrics = (await call('GET', '/metrics')).body;
    expect(metrics).toMatch(/mlpipe_inference_seconds_count\{[^}]*model="mnist",version="1"[^}]*\} 2/);
    expect(metrics).toMatch(/mlpipe_prediction_confidence_count\{[^}]*model="mnist",version="1"[^}]*\} 4/);
  });

  it('predicts an uploaded drawing (dark ink on white, any size) and a 28×28 array', async () => {
    const png = new PNG({ width: 112, height: 112 });
    for (let y = 0; y < 112; y++)
      for (let x = 0; x < 112; x++) {
        const v = 255 - (sample(0)[Math.floor(y / 4) * 28 + Math.floor(x / 4)] as number);
        png.data.set([v, v, v, 255], (y * 112 + x) * 4);
      }
    const upload = await call('POST', '/predict?model=mnist@champion', PNG.sync.write(png), { 'content-type': 'image/png' });
    expect(upload.statusCode).toBe(200);
    expect(upload.json()).toMatchObject({ model: 'mnist', version: 1, class: labels[0] });
    expect(upload.json().input28).toHaveLength(784);
    const array = await call('POST', '/predict', { model: 'mnist/1', pixels: Array.from(sample(1)), range: 'byte' });
    expect(array.json()).toMatchObject({ class: labels[1], version: 1, predictionId: expect.any(String) });
    expect(array.json().probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 4);
    // The same pixels as 28 rows give the same answer.
    const rows = Array.from({ length: 28 }, (_, r) => Array.from(sample(1).subarray(r * 28, (r + 1) * 28)));
    const byRows = await call('POST', '/predict', { model: 'mnist/1', pixels: rows, range: 'byte' });
    expect(byRows.json().probabilities).toEqual(array.json().probabilities);
  });

  it('explains a prediction with a saliency map on the digit', async () => {
    const res = await call('POST', '/explain', { model: 'mnist/1', pixels: Array.from(sample(0)), range: 'byte' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ class: labels[0], version: 1 });
    expect(body.saliency).toHaveLength(28);
    const flat = (body.saliency as number[][]).flat();
    expect(Math.max(...flat)).toBeCloseTo(1, 5);
    // The model's attention sits on the digit: mean saliency on ink pixels beats that on the background.
    const ink = flat.filter((_, i) => (sample(0)[i] as number) > 100);
    const background = flat.filter((_, i) => (sample(0)[i] as number) === 0);
    expect(ink.reduce((a, b) => a + b, 0) / ink.length).toBeGreaterThan(background.reduce((a, b) => a + b, 0) / background.length);
    expect(Buffer.from(body.png, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it('never answers bad input with a 5xx', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/v2/models/mnist/infer', { inputs: [{ name: 'image', shape: [1, 27, 27], datatype: 'FP32', data: Array(729).fill(0) }] }, 400, /expected \[N,28,28\]/],
      ['POST', '/v2/models/mnist/infer', { inputs: [{ name: 'image', shape: [1, 784], datatype: 'BYTES', data: Array(784).fill(0) }] }, 400, /datatype BYTES/],
      ['POST', '/v2/models/mnist/infer', { inputs: [{ name: 'image', shape: [1, 784], datatype: 'FP32', data: [...Array(783).fill(0), 'NaN'] }] }, 400, /numbers only/],
      ['POST', '/v2/models/mnist/infer', { inputs: [] }, 400, /exactly one input/],
      ['POST', '/v2/models/ghost/infer', { inputs: [{ name: 'image', shape: [784], datatype: 'FP32', data: Array(784).fill(0) }] }, 404, /ghost has no champion/],
      ['POST', '/v2/models/mnist/versions/9/infer', { inputs: [{ name: 'image', shape: [784], datatype: 'FP32', data: Array(784).fill(0) }] }, 404, /no version 9/],
      ['GET', '/v2/models/..%2Fsecrets', undefined, 400, /model names/],
      ['GET', '/v2/models/mnist/versions/1.5', undefined, 400, /not a positive whole number/],
      ['POST', '/predict', { pixels: Array(784).fill(0), image: 'x' }, 400, /either "image"/],
      ['POST', '/predict', { model: '../x', pixels: Array(784).fill(0) }, 400, /model selector/],
      ['POST', '/predict', { pixels: 'all zeros' }, 400, /pixels: expected 784 numbers or 28 rows of numbers, got string/],
      ['POST', '/predict', { pixels: Array(783).fill(0) }, 400, /expected 784 values \(28×28\), got 783/],
      ['POST', '/predict', { pixels: [...Array(783).fill(0), '7'] }, 400, /pixels\.783: expected a number or a row of numbers, got string/],
      ['POST', '/predict', { pixels: [...Array(27).fill(Array(28).fill(0)), [...Array(27).fill(0), null]] }, 400, /pixels\.27\.27: expected a number, got null/],
      ['POST', '/predict', { image: Buffer.from('not an image').toString('base64') }, 400, /neither a PNG nor a JPEG/],
    ];
    for (const [method, url, payload, status, message] of cases) {
      const res = await call(method as 'GET', url, payload);
      expect(res.statusCode, `${method} ${url}`).toBe(status);
      expect(res.json().error, `${method} ${url}`).toMatch(message);
    }
    const big = await call('POST', '/predict', Buffer.alloc(2 * 1024 * 1024, 1), { 'content-type': 'image/png' });
    expect(big.statusCode).toBe(413);
    expect(typeof big.json().error).toBe('string');
  });

  it('follows an alias move on the next request, without a restart', async () => {
    await registerModel('job-b', 2);
    await eventually(async () => (await call('GET', '/v2/models/mnist')).json().versions?.length === 2, 20_000);
    const served = async () => (await call('POST', '/predict', { pixels: Array.from(sample(3)), range: 'byte' })).json().version as number;
    const champion = (await live.registry.app.inject({ method: 'GET', url: '/models/mnist/aliases/champion' })).json().version as number;
    await eventually(async () => (await served()) === champion, 10_000, `the gate's champion v${champion} to be served`);
    const other = champion === 1 ? 2 : 1;
    const promoted = await live.registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: { authorization: `Bearer ${(await live.registry.tokens.create('gateway-test', 'admin')).token}` }, payload: { version: other, reason: 'test the alias move' } });
    expect(promoted.statusCode).toBe(200);
    await eventually(async () => (await served()) === other, 10_000, `v${other} to be served after the move`);
  });

  it('serves a pinned version (MODEL_VERSION) to requests that name only the model', async () => {
    const pinned = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('p'), pinnedVersion: 1 });
    const ask = async (model?: string) =>
      (await pinned.app.inject({ method: 'POST', url: '/predict', payload: { ...(model ? { model } : {}), pixels: Array.from(sample(5)), range: 'byte' } })).json().version;
    const champion = (await live.registry.app.inject({ method: 'GET', url: '/models/mnist/aliases/champion' })).json().version;
    expect(await ask()).toBe(1);
    expect(await ask('mnist')).toBe(1);
    expect(await ask('mnist@champion')).toBe(champion);
    expect(await ask('mnist/2')).toBe(2);
    await pinned.stop();
  });
});
