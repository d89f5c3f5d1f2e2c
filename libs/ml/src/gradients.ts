import * as tf from '@tensorflow/tfjs';
import { labelsToOneHot, type LabelledImages } from './preprocess';
import { trainingBatch, type BatchAugment } from './recipe';
import { isFusedOptimizer } from './optimizers';

/** What one replica computed on its shard of a global batch. */
export interface ShardGradients {
  /** d(sum of per-sample losses)/d(weights), flattened in `model.trainableWeights` order. */
  gradSum: Float32Array;
  lossSum: number;
  correct: number;
  count: number;
}

function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  // LayerVariable.read() hands back the engine variable the optimizer updates by name.
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Number of trainable parameters, i.e. the length of every flattened gradient. */
export function gradientLength(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
}

/**
 * Gradients of the summed loss over `order[start .. start+count)`: summing (not averaging) lets a
 * coordinator divide by the global batch size, so shards of unequal size combine exactly into
 * the gradient of the mean loss over the whole batch. The loss is the one compileModel uses.
 */
export function computeShardGradients(
  model: tf.LayersModel,
  data: LabelledImages,
  order: ArrayLike<number>,
  start: number,
  count: number,
  augment?: BatchAugment,
): ShardGradients {
  const vars = trainableVariables(model);
  const gradSum = new Float32Array(gradientLength(model));
  if (count === 0) return { gradSum, lossSum: 0, correct: 0, count: 0 };
  const xs = trainingBatch(data, order, start, count, augment);
  const ys = labelsToOneHot(data.labels, count, order, start);
  let hits: tf.Tensor | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const probs = model.apply(xs, { training: true }) as tf.Tensor2D;
      hits = tf.keep(probs.argMax(-1).equal(ys.argMax(-1)).sum());
      return tf.metrics.categoricalCrossentropy(ys, probs).sum() as tf.Scalar;
    }, vars);
    let offset = 0;
    for (const v of vars) {
      const g = grads[v.name];
      if (!g) throw new Error(`no gradient for ${v.name}`);
      const values = g.dataSync() as Float32Array;
      gradSum.set(values, offset);
      offset += values.length;
    }
    const lossSum = value.dataSync()[0] as number;
    const correct = hits ? (hits.dataSync()[0] as number) : 0;
    tf.dispose([value, ...Object.values(grads)]);
    return { gradSum, lossSum, correct, count };
  } finally {
    tf.dispose([xs, ys, ...(hits ? [hits] : [])]);
  }
}

/**
 * Applies one flattened (already averaged) gradient with the model's own optimizer. A fused
 * optimizer reads the slices directly; any other gets one tensor per variable.
 */
export function applyFlatGradients(model: tf.LayersModel, flat: Float32Array): void {
  const optimizer = model.optimizer;
  if (!optimizer) throw new Error('the model has no optimizer; compile it first');
  const expected = gradientLength(model);
  if (flat.length !== expected) throw new Error(`gradient has ${flat.length} values, the model ${expected}`);
  if (isFusedOptimizer(optimizer)) {
    let at = 0;
    optimizer.applyVariableGradients(
      trainableVariables(model).map((variable) => ({ variable, gradient: flat.subarray(at, (at += variable.size)) })),
    );
    return;
  }
  const named: tf.NamedTensorMap = {};
  let offset = 0;
  for (const v of trainableVariables(model)) {
    named[v.name] = tf.tensor(flat.subarray(offset, offset + v.size), v.shape, 'float32');
    offset += v.size;
  }
  try {
    optimizer.applyGradients(named);
  } finally {
    tf.dispose(Object.values(named));
  }
}
