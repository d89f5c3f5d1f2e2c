import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyFlatGradients, computeShardGradients, createModel, epochOrder, gradientLength, initBackend } from '../src';
import { loadMnist } from './mnist';

const weightsOf = (m: tf.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
};

describe('shard gradients (the data-parallel step)', () => {
  const data = loadMnist('train', 256);
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('two half-batch gradient sums add up to the full batch gradient sum', () => {
    const model = createModel('cnn-small', { seed: 5 });
    const order = epochOrder(data.count, 5, 1);
    const full = computeShardGradients(model, data, order, 0, 64);
    const a = computeShardGradients(model, data, order, 0, 40);
    const b = computeShardGradients(model, data, order, 40, 24);
    expect(full.gradSum).toHaveLength(gradientLength(model));
    const summed = a.gradSum.map((v, i) => v + (b.gradSum[i] as number));
    expect(maxDiff(summed, full.gradSum)).toBeLessThan(1e-3 * Math.max(...full.gradSum.map(Math.abs)));
    expect(a.lossSum + b.lossSum).toBeCloseTo(full.lossSum, 3);
    expect(a.correct + b.correct).toBe(full.correct);
    expect(a.count + b.count).toBe(64);
    model.dispose();
  });

  it('applying the mean gradient is the same update as trainOnBatch on that batch', async () => {
    const viaFit = createModel('cnn-small', { seed: 9 });
    const viaShards = createModel('cnn-small', { seed: 9 });
    const order = epochOrder(data.count, 9, 1);
    for (let step = 0; step < 3; step++) {
      const start = step * 64;
      const picked = Array.from(order.subarray(start, start + 64));
      const xs = tf.tensor4d(picked.flatMap((i) => Array.from(data.images.subarray(i * 784, (i + 1) * 784), (p) => p / 255)), [64, 28, 28, 1]);
      const ys = tf.oneHot(tf.tensor1d(picked.map((i) => data.labels[i] as number), 'int32'), 10);
      await viaFit.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
      const g = computeShardGradients(viaShards, data, order, start, 64);
      applyFlatGradients(viaShards, g.gradSum.map((v) => v / 64));
    }
    expect(maxDiff(weightsOf(viaFit), weightsOf(viaShards))).toBeLessThan(1e-4);
    // And it did move: the update is not a no-op.
    const fresh = createModel('cnn-small', { seed: 9 });
    expect(maxDiff(weightsOf(fresh), weightsOf(viaShards))).toBeGreaterThan(1e-3);
    tf.dispose([viaFit, viaShards, fresh].map((m) => m.getWeights()).flat());
  });

  it('refuses a gradient of the wrong length', () => {
    const model = createModel('cnn-small', { seed: 1 });
    expect(() => applyFlatGradients(model, new Float32Array(3))).toThrow(/gradient has 3 values/);
    model.dispose();
  });
});
