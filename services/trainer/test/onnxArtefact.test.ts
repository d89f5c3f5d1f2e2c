import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HyperparamsSchema, PIXELS, storeKeys, type LabelledImages } from '@mlpipe/contracts';
import { createModel, imagesToTensor, initBackend, ONNX_INPUT, ONNX_OUTPUT } from '@mlpipe/ml';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { writeOnnxArtefact } from '../src/app/onnxArtefact';
import { renderModelCard } from '../src/core/modelCard';

/** `count` made-up digits (seeded noise): the export is checked on images, not on what they show. */
function testSplit(count: number): LabelledImages {
  const images = new Uint8Array(count * PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7919 + 13) % 256;
  return { images, labels: new Uint8Array(count).map((_, i) => i % 10), count };
}

describe('the trainer\'s ONNX artefact', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    await initBackend('cpu');
    root = await mkdtemp(join(tmpdir(), 'mlpipe-onnx-'));
    store = createObjectStore({ kind: 'fs', root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('stores a verified model.onnx beside model.json that predicts like the tfjs model', async () => {
    const prefix = storeKeys.modelArtefacts('mnist', 'job-onnx', 1);
    const model = createModel('cnn-small', { seed: 9 });
    const test = testSplit(40);
    const { onnx, onnxKey } = await writeOnnxArtefact(store, prefix, model, test);
    expect(onnx).toMatchObject({ status: 'verified', samples: 32, tolerance: 1e-5, opset: 13 });
    expect(onnxKey).toBe(`${prefix}model.onnx`);
    const session = await ort.InferenceSession.create(await store.get(onnxKey!));
    const x = imagesToTensor(test.images, 3, undefined, 35);
    const got = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x.dataSync() as Float32Array, [3, 28, 28, 1]) }))[ONNX_OUTPUT]!.data as Float32Array;
    const want = (model.predict(x) as tf.Tensor).dataSync();
    want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThanOrEqual(1e-5));
    await session.release();
  });

  it('stores nothing for a model it cannot export, and says why', async () => {
    const prefix = storeKeys.modelArtefacts('mnist', 'job-rnn', 1);
    const model = tf.sequential({ layers: [tf.layers.reshape({ inputShape: [28, 28, 1], targetShape: [28, 28] }), tf.layers.simpleRNN({ units: 10, activation: 'softmax' })] });
    const { onnx, onnxKey } = await writeOnnxArtefact(store, prefix, model, testSplit(4));
    expect(onnxKey).toBeUndefined();
    expect(onnx).toEqual({ status: 'absent', reason: expect.stringMatching(/the ONNX export failed: .*has no ONNX translation in this exporter/) });
    expect(await store.head(storeKeys.artefact(prefix, 'onnx'))).toBeUndefined();
  });

  it('writes the verdict into the model card', () => {
    const card = (onnx: Parameters<typeof renderModelCard>[0]['onnx']) => renderModelCard({ ...cardBase, ...(onnx ? { onnx } : {}) });
    expect(card({ status: 'verified', maxAbsDiff: 2e-7, tolerance: 1e-5, samples: 32, opset: 13 })).toMatch(/- ONNX: model\.onnx \(opset 13; input `image` float32 NHWC \[N,28,28,1\].*matches tfjs within 2\.0e-7 on 32 test images/);
    expect(card({ status: 'absent', reason: 'onnxruntime-node is not installed' })).toMatch(/- ONNX: none: onnxruntime-node is not installed/);
    expect(card(undefined)).toMatch(/- ONNX: not exported/);
  });
});

const cardBase: Parameters<typeof renderModelCard>[0] = {
  jobId: 'job-card',
  modelName: 'mnist',
  replicaId: 'r1',
  dataset: 'mnist',
  datasetVersion: 'd'.repeat(64),
  trainSamples: 100,
  hyperparams: HyperparamsSchema.parse({}),
  backend: 'cpu',
  codeVersion: 'test',
  evaluation: { testAccuracy: 0.9, testSamples: 10, perClassAccuracy: Array(10).fill(0.9), confusionMatrix: Array.from({ length: 10 }, () => Array(10).fill(0)) },
  history: [],
  durationSec: 1,
};
