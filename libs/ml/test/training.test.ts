import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createModel,
  evaluateModel,
  initBackend,
  loadModelFromBytes,
  MODEL_ARCHS,
  saveModelToBytes,
  shuffledIndices,
  tally,
  trainModel,
} from '../src';
import { loadMnist } from './mnist';

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('training on WASM', () => {
  const train = loadMnist('train', 3000);
  const test = loadMnist('t10k', 1000);
  beforeAll(async () => {
    expect((await initBackend('wasm')).name).toBe('wasm');
  });

  it('builds distinct architectures with the same seed giving the same initial weights', () => {
    const params = MODEL_ARCHS.map((a) => {
      const m = createModel(a, { seed: 3 });
      const n = m.countParams();
      m.dispose();
      return n;
    });
    expect(new Set(params).size).toBe(MODEL_ARCHS.length);
    const a = createModel('cnn-small', { seed: 3 });
    const b = createModel('cnn-small', { seed: 3 });
    const c = createModel('cnn-small', { seed: 4 });
    expect(weightsOf(a)).toEqual(weightsOf(b));
    expect(weightsOf(a)).not.toEqual(weightsOf(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('learns MNIST: loss falls and test accuracy passes 90% without leaking tensors', async () => {
    const model = createModel('cnn-small', { seed: 1 });
    const tensorsAfterEpoch: number[] = [];
    const history = await trainModel(model, { train, validation: loadMnist('t10k', 300) }, {
      epochs: 2,
      batchSize: 32,
      seed: 1,
      onEpoch: () => void tensorsAfterEpoch.push(tf.memory().numTensors),
    });
    expect(history).toHaveLength(2);
    expect(history[1]!.loss).toBeLessThan(history[0]!.loss);
    expect(history[1]!.valAccuracy).toBeGreaterThan(0.85);
    expect(tensorsAfterEpoch[1]).toBe(tensorsAfterEpoch[0]);
    const ev = evaluateModel(model, test);
    expect(ev.accuracy).toBeGreaterThan(0.9);
    expect(ev.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(1000);
    model.dispose();
  });

  it('is reproducible with a fixed seed, and a resumed run equals an uninterrupted one', async () => {
    const small = { train: { images: train.images.subarray(0, 600 * 784), labels: train.labels.subarray(0, 600), count: 600 } };
    const straight = createModel('cnn-small', { seed: 5 });
    await trainModel(straight, small, { epochs: 2, batchSize: 50, seed: 5 });
    const again = createModel('cnn-small', { seed: 5 });
    await trainModel(again, small, { epochs: 2, batchSize: 50, seed: 5 });
    expect(weightsOf(again)).toEqual(weightsOf(straight));

    const first = createModel('cnn-small', { seed: 5 });
    await trainModel(first, small, { epochs: 1, batchSize: 50, seed: 5 });
    const resumed = await loadModelFromBytes(await saveModelToBytes(first));
    await trainModel(resumed, small, { epochs: 2, batchSize: 50, seed: 5, initialEpoch: 1 });
    const a = weightsOf(resumed).flat();
    const b = weightsOf(straight).flat();
    expect(a.length).toBe(b.length);
    expect(Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))).toBeLessThan(1e-5);
    [straight, again, first, resumed].forEach((m) => m.dispose());
  });

  it('resumes mid-epoch at the exact step: the same weights and the same whole-epoch figures as an uninterrupted run', async () => {
    const small = { train: { images: train.images.subarray(0, 600 * 784), labels: train.labels.subarray(0, 600), count: 600 } };
    const straight = createModel('cnn-small', { seed: 5 });
    const straightHistory = await trainModel(straight, small, { epochs: 2, batchSize: 50, seed: 5 });
    // Stop after step 17 (epoch 2, batch 5 of 12), as a crash after a checkpoint by time would.
    const first = createModel('cnn-small', { seed: 5 });
    const stop = new AbortController();
    let saved: { bytes: Awaited<ReturnType<typeof saveModelToBytes>>; step: number; epochSoFar: Parameters<NonNullable<Parameters<typeof trainModel>[2]['afterStep']>>[0]['epochSoFar'] } | undefined;
    await expect(
      trainModel(first, small, {
        epochs: 2,
        batchSize: 50,
        seed: 5,
        signal: stop.signal,
        afterStep: async ({ step, epochSoFar }) => {
          if (step !== 17) return;
          saved = { bytes: await saveModelToBytes(first), step, epochSoFar };
          stop.abort(new Error('crash'));
        },
      }),
    ).rejects.toThrow('crash');
    const resumed = await loadModelFromBytes(saved!.bytes);
    const history = await trainModel(resumed, small, { epochs: 2, batchSize: 50, seed: 5, initialStep: saved!.step, partialEpoch: saved!.epochSoFar });
    const a = weightsOf(resumed).flat();
    const b = weightsOf(straight).flat();
    expect(Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))).toBeLessThan(1e-5);
    expect(history.map((h) => h.epoch)).toEqual([2]);
    expect(saved!.epochSoFar.samples).toBe(5 * 50);
    expect(Math.abs(history[0]!.loss - straightHistory[1]!.loss)).toBeLessThan(1e-5);
    [straight, first, resumed].forEach((m) => m.dispose());
  });

  it('saves the standard tfjs files and loads them back to identical predictions', async () => {
    const model = createModel('cnn-deep', { seed: 2 });
    const bytes = await saveModelToBytes(model);
    const json = JSON.parse(new TextDecoder().decode(bytes.modelJson));
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.modelTopology).toBeDefined();
    const loaded = await loadModelFromBytes(bytes);
    const probe = loadMnist('t10k', 20);
    const p1 = evaluateModel(model, probe);
    const p2 = evaluateModel(loaded, probe);
    expect(p2.confusionMatrix).toEqual(p1.confusionMatrix);
    model.dispose();
    loaded.dispose();
  });

  it('stops between batches when aborted', async () => {
    const model = createModel('cnn-small', { seed: 1 });
    const controller = new AbortController();
    let batches = 0;
    const run = trainModel(model, { train }, {
      epochs: 1,
      batchSize: 10,
      seed: 1,
      signal: controller.signal,
      onBatch: (b) => {
        batches = b;
        if (b === 3) controller.abort(new Error('stop now'));
      },
    });
    await expect(run).rejects.toThrow('stop now');
    expect(batches).toBe(3);
    model.dispose();
  });
});

describe('pure helpers', () => {
  it('tallies a confusion matrix and per-class accuracy', () => {
    const ev = tally([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3);
    expect(ev.confusionMatrix).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ]);
    expect(ev.accuracy).toBeCloseTo(3 / 5);
    expect(ev.perClassAccuracy).toEqual([0.5, 1, 0]);
  });

  it('shuffles deterministically and completely', () => {
    const a = shuffledIndices(100, 9);
    expect(Array.from(a)).toEqual(Array.from(shuffledIndices(100, 9)));
    expect(Array.from(a)).not.toEqual(Array.from(shuffledIndices(100, 10)));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
