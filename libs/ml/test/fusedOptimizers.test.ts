import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  applyFlatGradients,
  computeShardGradients,
  createModel,
  createOptimizer,
  epochOrder,
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedSGDOptimizer,
  initBackend,
  learningRateAt,
  loadModelFromBytes,
  saveModelToBytes,
  setLearningRate,
  type LrScheduleConfig,
  type OptimizerOptions,
} from '../src';
import { loadMnist } from './mnist';

// Fused optimizers against tfjs's own, on a real net: same numbers, same checkpoints.
const data = loadMnist('train', 512);
// The pure-JS CPU backend is slow on convolutions: fewer, smaller steps there.
let BATCH = 8;
let STEPS = 12;
// A step schedule that halves the rate every quarter of the run, so the rate changes mid-run three times.
const schedule = (learningRate: number): LrScheduleConfig => ({ schedule: 'step', learningRate, stepsPerEpoch: STEPS / 4, epochs: 4, everyEpochs: 1, gamma: 0.5, warmupShare: 0 });

const CASES: { label: string; opts: OptimizerOptions; stock: (rate: number) => tf.Optimizer; fused: new (...a: never[]) => tf.Optimizer }[] = [
  { label: 'adam', opts: { optimizer: 'adam', learningRate: 0.003 }, stock: (r) => tf.train.adam(r), fused: FusedAdamOptimizer },
  { label: 'nesterov', opts: { optimizer: 'sgd', learningRate: 0.05, momentum: 0.9 }, stock: (r) => tf.train.momentum(r, 0.9, true), fused: FusedMomentumOptimizer },
  { label: 'sgd', opts: { optimizer: 'sgd', learningRate: 0.05, momentum: 0 }, stock: (r) => tf.train.sgd(r), fused: FusedSGDOptimizer },
];

type StepKind = 'trainOnBatch' | 'flat';

function modelWith(optimizer: tf.Optimizer): tf.LayersModel {
  const model = createModel('cnn-small', { seed: 7 });
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function step(model: tf.LayersModel, kind: StepKind, n: number, rate: number): Promise<void> {
  setLearningRate(model, learningRateAt(n, schedule(rate)));
  const order = epochOrder(data.count, 7, 1 + Math.floor((n * BATCH) / data.count));
  const start = (n * BATCH) % data.count;
  if (kind === 'flat') {
    const g = computeShardGradients(model, data, order, start, BATCH);
    applyFlatGradients(model, g.gradSum.map((v) => v / BATCH));
    return;
  }
  const picked = Array.from(order.subarray(start, start + BATCH));
  const xs = tf.tensor4d(picked.flatMap((i) => Array.from(data.images.subarray(i * 784, (i + 1) * 784), (p) => p / 255)), [BATCH, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(picked.map((i) => data.labels[i] as number), 'int32'), 10);
  await model.trainOnBatch(xs, ys);
  tf.dispose([xs, ys]);
}

async function train(model: tf.LayersModel, kind: StepKind, from: number, to: number, rate: number): Promise<void> {
  for (let n = from; n < to; n++) await step(model, kind, n, rate);
}

const flatWeights = (m: tf.LayersModel) => Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
async function optimizerState(m: tf.LayersModel): Promise<{ names: string[]; values: Float32Array }> {
  const w = await m.optimizer.getWeights();
  // Names without the layer's (per-model) prefix: conv2d_Conv2D58/kernel/m → kernel/m.
  const out = { names: w.map((x) => x.name.replace(/^[^/]+\//, '')), values: Float32Array.from(w.flatMap((x) => Array.from(x.tensor.dataSync()))) };
  w[0]?.tensor.dispose();
  return out;
}

/** The largest |a-b| / max(|b|, 1e-3) over all values. */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(Math.abs(b[i] as number), 1e-3));
  return d;
}

describe.each(['cpu', 'wasm'] as const)('fused optimizers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend('wasm');
    await tf.setBackend(backend);
    [BATCH, STEPS] = backend === 'cpu' ? [4, 8] : [8, 12];
    expect(tf.getBackend()).toBe(backend);
  });

  describe.each(CASES)('$label', ({ opts, stock, fused }) => {
    const rate = opts.learningRate as number;

    it('compiles to the fused class with tfjs\'s className', () => {
      const o = createOptimizer(opts);
      // tfjs's Optimizer answers instanceof for any optimizer, so compare the class itself.
      expect(o.constructor).toBe(fused);
      expect(o.getClassName()).toBe(stock(rate).getClassName());
      o.dispose();
    });

    it.each(['trainOnBatch', 'flat'] as const)('follows tfjs\'s own optimizer over %s steps with the rate changing mid-run', async (kind) => {
      const ours = modelWith(createOptimizer(opts));
      const theirs = modelWith(stock(rate));
      const start = flatWeights(theirs);
      await train(ours, kind, 0, STEPS, rate);
      await train(theirs, kind, 0, STEPS, rate);
      const diff = maxRelDiff(flatWeights(ours), flatWeights(theirs));
      expect(diff).toBeLessThanOrEqual(1e-6);
      const [a, b] = [await optimizerState(ours), await optimizerState(theirs)];
      expect(a.names).toEqual(b.names);
      expect(maxRelDiff(a.values, b.values)).toBeLessThanOrEqual(1e-6);
      // It trained: the weights moved well past the tolerance.
      expect(maxRelDiff(flatWeights(ours), start)).toBeGreaterThan(1e-3);
      ours.dispose();
      theirs.dispose();
    });

    it('resumes its own checkpoint bit-identically, and loads a checkpoint of tfjs\'s optimizer', async () => {
      const half = STEPS / 2;
      const straight = modelWith(createOptimizer(opts));
      await train(straight, 'flat', 0, STEPS, rate);

      const first = modelWith(createOptimizer(opts));
      await train(first, 'flat', 0, half, rate);
      const resumed = await loadModelFromBytes(await saveModelToBytes(first));
      expect(resumed.optimizer.constructor).toBe(fused);
      await train(resumed, 'flat', half, STEPS, rate);
      expect(flatWeights(resumed)).toEqual(flatWeights(straight));
      expect((await optimizerState(resumed)).values).toEqual((await optimizerState(straight)).values);
      expect(resumed.optimizer.iterations).toBe(STEPS);

      // A checkpoint written by tf.train.* resumes under the fused optimizer as it would under tfjs's.
      const old = modelWith(stock(rate));
      await train(old, 'flat', 0, half, rate);
      const bytes = await saveModelToBytes(old);
      const adopted = await loadModelFromBytes(bytes);
      expect(adopted.optimizer.constructor).toBe(fused);
      await train(adopted, 'flat', half, STEPS, rate);
      await train(old, 'flat', half, STEPS, rate);
      expect(maxRelDiff(flatWeights(adopted), flatWeights(old))).toBeLessThanOrEqual(1e-6);
      [straight, first, resumed, old, adopted].forEach((m) => m.dispose());
    });

    it('leaves no tensors behind: none per flat step, and no more per trainOnBatch step than tfjs\'s own', async () => {
      const growth = async (model: tf.LayersModel, kind: StepKind) => {
        await train(model, kind, 0, 2, rate);
        const before = tf.memory().numTensors;
        await train(model, kind, 2, 6, rate);
        return tf.memory().numTensors - before;
      };
      const models = [modelWith(createOptimizer(opts)), modelWith(createOptimizer(opts)), modelWith(stock(rate))] as const;
      expect(await growth(models[0], 'flat')).toBe(0);
      // tfjs's trainOnBatch keeps one tensor per step of its own, whatever the optimizer.
      expect(await growth(models[1], 'trainOnBatch')).toBe(await growth(models[2], 'trainOnBatch'));
      models.forEach((m) => m.dispose());
    });
  });
});
