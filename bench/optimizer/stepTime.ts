/**
 * Milliseconds per training step with tfjs's own optimizers ("stock", what compileModel used
 * before) against the fused ones, on one backend: model.trainOnBatch, and the data-parallel step
 * (computeShardGradients + applyFlatGradients), and applyFlatGradients alone. Variants take turns in short rounds, so a noisy
 * neighbour on a shared machine hits them alike; the median round is reported.
 * Usage: npx tsx bench/optimizer/stepTime.ts [--backend wasm] [--arch cnn-small,cnn-deep] [--rounds 7] [--steps 10] [--batch 64]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  applyFlatGradients,
  computeShardGradients,
  createModel,
  createOptimizer,
  epochOrder,
  imagesToTensor,
  initBackend,
  labelsToOneHot,
  MODEL_ARCHS,
  setLearningRate,
  type ModelArch,
} from '@mlpipe/ml';
import { mnistSamples } from '@mlpipe/testing';

type Variant = 'stock' | 'fused';
type Path = 'trainOnBatch' | 'shard+apply' | 'apply';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    arch: { type: 'string', default: 'cnn-small,cnn-deep' },
    rounds: { type: 'string', default: '7' },
    steps: { type: 'string', default: '10' },
    batch: { type: 'string', default: '64' },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const batch = Number(values.batch);
const data = mnistSamples('train', 2048);

function modelFor(arch: ModelArch, variant: Variant): tf.LayersModel {
  const model = createModel(arch, { seed: 1 });
  const optimizer = variant === 'fused' ? createOptimizer({ learningRate: 0.003 }) : tf.train.adam(0.003);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Runs `count` steps from global step `from` and returns ms per step. */
async function run(model: tf.LayersModel, path: Path, from: number, count: number): Promise<number> {
  if (path === 'apply') {
    // The optimizer alone: one gradient, computed outside the clock, applied `count` times.
    const g = computeShardGradients(model, data, epochOrder(data.count, 1, 1), 0, batch).gradSum.map((v) => v / batch);
    const t = performance.now();
    for (let n = from; n < from + count; n++) {
      setLearningRate(model, 0.003 * (1 - n / 10_000));
      applyFlatGradients(model, g);
    }
    return (performance.now() - t) / count;
  }
  const t0 = performance.now();
  for (let n = from; n < from + count; n++) {
    // As the trainer does: the schedule sets a rate before every step.
    setLearningRate(model, 0.003 * (1 - n / 10_000));
    const start = (n * batch) % (data.count - batch);
    const order = epochOrder(data.count, 1, 1);
    if (path === 'shard+apply') {
      const g = computeShardGradients(model, data, order, start, batch);
      applyFlatGradients(model, g.gradSum.map((v) => v / batch));
    } else {
      const xs = imagesToTensor(data.images, batch, order, start);
      const ys = labelsToOneHot(data.labels, batch, order, start);
      await model.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
    }
  }
  return (performance.now() - t0) / count;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const choice = await initBackend(values.backend as 'wasm' | 'cpu');
  console.log(`backend ${choice.name}, batch ${batch}, ${rounds} rounds of ${steps} steps, Adam`);
  for (const arch of values.arch.split(',')) {
    if (!MODEL_ARCHS.includes(arch as ModelArch)) throw new Error(`--arch ${arch} is not one of ${MODEL_ARCHS.join(', ')}`);
    for (const path of ['trainOnBatch', 'shard+apply', 'apply'] as const) {
      const models = { stock: modelFor(arch as ModelArch, 'stock'), fused: modelFor(arch as ModelArch, 'fused') };
      const times: Record<Variant, number[]> = { stock: [], fused: [] };
      for (const v of ['stock', 'fused'] as const) await run(models[v], path, 0, 3); // warm-up
      for (let r = 0; r < rounds; r++) for (const v of ['stock', 'fused'] as const) times[v].push(await run(models[v], path, 3 + r * steps, steps));
      const [s, f] = [median(times.stock), median(times.fused)];
      console.log(`${arch.padEnd(9)} ${path.padEnd(12)} stock ${s.toFixed(2)} ms  fused ${f.toFixed(2)} ms  saved ${(s - f).toFixed(2)} ms (${((1 - f / s) * 100).toFixed(1)}%)`);
      models.stock.dispose();
      models.fused.dispose();
    }
  }
}

await main();
