import * as tf from '@tensorflow/tfjs';
import { HyperparamsSchema } from '@mlpipe/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  computeShardGradients,
  createModel,
  evaluateModel,
  evaluateTransformed,
  initBackend,
  learningRateAt,
  loadModelFromBytes,
  recipeFrom,
  saveModelToBytes,
  setLearningRate,
  trainingBatch,
  trainModel,
  type LrScheduleConfig,
} from '../src';
import { loadMnist } from './mnist';

const base: LrScheduleConfig = { schedule: 'constant', learningRate: 0.01, stepsPerEpoch: 10, epochs: 4, everyEpochs: 1, gamma: 0.5, warmupShare: 0.25 };
const rates = (c: LrScheduleConfig) => Array.from({ length: c.stepsPerEpoch * c.epochs }, (_, s) => learningRateAt(s, c));

describe('learning-rate schedules', () => {
  it('keeps a constant rate constant', () => {
    expect(new Set(rates(base))).toEqual(new Set([0.01]));
  });

  it('steps down by gamma at every epoch boundary', () => {
    const r = rates({ ...base, schedule: 'step' });
    expect([r[0], r[9], r[10], r[20], r[39]]).toEqual([0.01, 0.01, 0.005, 0.0025, 0.00125]);
  });

  it('cosine falls from the peak to about a thousandth of it, never rising', () => {
    const r = rates({ ...base, schedule: 'cosine' });
    expect(r[0]).toBeCloseTo(0.01, 10);
    r.slice(1).forEach((v, i) => expect(v).toBeLessThanOrEqual(r[i] as number));
    expect(learningRateAt(40, { ...base, schedule: 'cosine' })).toBeCloseTo(0.00001, 8);
  });

  it('one-cycle warms up from a tenth of the peak, reaches it at the warm-up share, then anneals', () => {
    const r = rates({ ...base, schedule: 'one-cycle' });
    expect(r[0]).toBeCloseTo(0.001, 10);
    const peakAt = r.indexOf(Math.max(...r));
    expect(peakAt).toBe(10); // 25% of 40 steps
    expect(r[peakAt]).toBeCloseTo(0.01, 10);
    r.slice(0, peakAt).forEach((v, i) => i > 0 && expect(v).toBeGreaterThan(r[i - 1] as number));
    r.slice(peakAt + 1).forEach((v, i) => expect(v).toBeLessThan(r[peakAt + i] as number));
  });

  it('reads the schedule from job hyperparameters', () => {
    const hp = HyperparamsSchema.parse({ lrSchedule: 'step', lrStepEpochs: 2, lrStepGamma: 0.1, learningRate: 0.02, epochs: 6, optimizer: 'sgd', momentum: 0.8 });
    const r = recipeFrom(hp, 100);
    expect(r.optimizer).toEqual({ learningRate: 0.02, optimizer: 'sgd', momentum: 0.8 });
    expect(learningRateAt(199, r.schedule)).toBeCloseTo(0.02, 10);
    expect(learningRateAt(200, r.schedule)).toBeCloseTo(0.002, 10);
    expect(r.augment).toBeUndefined();
    expect(recipeFrom(HyperparamsSchema.parse({ augment: {} }), 1).augment).toEqual({ rotateDeg: 10, shiftPx: 2, scale: 0.1, strokeProb: 0.3 });
  });
});

describe('optimizers, architectures and augmented batches on WASM', () => {
  const train = loadMnist('train', 2000);
  const test = loadMnist('t10k', 500);
  beforeAll(async () => {
    expect((await initBackend('wasm')).name).toBe('wasm');
  });

  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  const oneStep = async (m: tf.LayersModel) => {
    const xs = trainingBatch(train, Uint32Array.from({ length: 32 }, (_, i) => i), 0, 32);
    const ys = tf.oneHot(tf.tensor1d(Array.from(train.labels.subarray(0, 32)), 'int32'), 10);
    await m.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
  };

  it.each(['adam', 'sgd'] as const)('%s takes the rate set between steps: zero leaves the weights alone', async (optimizer) => {
    const model = createModel('cnn-small', { seed: 2, optimizer, learningRate: 0.05 });
    expect(model.optimizer.getClassName()).toBe(optimizer === 'adam' ? 'Adam' : 'Momentum');
    const before = weights(model);
    setLearningRate(model, 0);
    await oneStep(model);
    expect(weights(model)).toEqual(before);
    setLearningRate(model, 0.05);
    await oneStep(model);
    expect(weights(model)).not.toEqual(before);
    model.dispose();
  });

  it('restores SGD with momentum (and its accumulators) from a checkpoint', async () => {
    const model = createModel('cnn-wide', { seed: 2, optimizer: 'sgd', learningRate: 0.05, momentum: 0.9 });
    await oneStep(model);
    const restored = await loadModelFromBytes(await saveModelToBytes(model));
    expect(restored.optimizer.getClassName()).toBe('Momentum');
    await oneStep(model);
    await oneStep(restored);
    const other = weights(restored);
    const maxDiff = Math.max(...weights(model).flatMap((w, i) => w.map((v, j) => Math.abs(v - (other[i]![j] as number)))));
    expect(maxDiff).toBeLessThan(1e-6);
    model.dispose();
    restored.dispose();
  });

  it.each(['cnn-wide'] as const)('%s classifies 28×28 digits into 10 classes', (arch) => {
    const model = createModel(arch, { seed: 1 });
    const out = tf.tidy(() => model.predict(trainingBatch(train, [0, 1, 2], 0, 3)) as tf.Tensor);
    expect(out.shape).toEqual([3, 10]);
    out.dispose();
    model.dispose();
  });

  it('augments a sample the same way whatever batch or position it is in, and differently per epoch', () => {
    const batch = (order: number[], epoch: number) => {
      const t = trainingBatch(train, order, 0, order.length, { config: { rotateDeg: 15, shiftPx: 2, scale: 0.1, strokeProb: 0.5 }, seed: 9, epoch });
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    };
    const a = batch([5, 6, 7], 1);
    const b = batch([7, 5], 1);
    expect(Array.from(b.subarray(784, 1568))).toEqual(Array.from(a.subarray(0, 784)));
    expect(Array.from(batch([5], 2))).not.toEqual(Array.from(a.subarray(0, 784)));
    const plain = trainingBatch(train, [5], 0, 1);
    expect(Array.from(plain.dataSync())).not.toEqual(Array.from(a.subarray(0, 784)));
    plain.dispose();
  });

  it('shard gradients of augmented samples add up to the gradient of the whole batch', () => {
    const model = createModel('cnn-small', { seed: 4 });
    const order = Uint32Array.from({ length: 24 }, (_, i) => (i * 7) % 2000);
    const augment = { config: { rotateDeg: 10, shiftPx: 2, scale: 0.1, strokeProb: 0.3 }, seed: 3, epoch: 2 };
    const whole = computeShardGradients(model, train, order, 0, 24, augment);
    const first = computeShardGradients(model, train, order, 0, 10, augment);
    const second = computeShardGradients(model, train, order, 10, 14, augment);
    whole.gradSum.forEach((g, i) => expect(Math.abs(g - (first.gradSum[i]! + second.gradSum[i]!))).toBeLessThan(1e-4));
    expect(first.lossSum + second.lossSum).toBeCloseTo(whole.lossSum, 3);
    model.dispose();
  });

  it('learns with augmentation and a one-cycle schedule, and is scored on transformed digits', async () => {
    const hp = HyperparamsSchema.parse({ arch: 'cnn-wide', epochs: 3, batchSize: 32, lrSchedule: 'one-cycle', augment: {}, seed: 5 });
    const model = createModel(hp.arch, { seed: hp.seed, ...recipeFrom(hp, 63).optimizer });
    const history = await trainModel(model, { train }, { epochs: hp.epochs, batchSize: hp.batchSize, seed: hp.seed, recipe: recipeFrom(hp, Math.ceil(train.count / hp.batchSize)) });
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
    const accuracy = evaluateModel(model, test).accuracy;
    expect(accuracy).toBeGreaterThan(0.9);
    // Harder than MNIST itself, yet a model that learned digits does far better than chance on it.
    const transformed = evaluateTransformed(model, test);
    expect(transformed).toBeGreaterThan(0.6);
    expect(transformed).toBeLessThan(accuracy + 0.02);
    model.dispose();
  });
});
