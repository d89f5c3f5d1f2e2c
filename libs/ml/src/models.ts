import * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer, FusedMomentumOptimizer, FusedSGDOptimizer } from './optimizers';

export const MODEL_ARCHS = ['cnn-small', 'cnn-deep', 'cnn-wide'] as const;
export type ModelArch = (typeof MODEL_ARCHS)[number];

export const IMAGE_SHAPE = [28, 28, 1] as const;
export const NUM_CLASSES = 10;

export type OptimizerName = 'adam' | 'sgd';

export interface OptimizerOptions {
  learningRate?: number;
  optimizer?: OptimizerName;
  /** Nesterov momentum of `sgd`. */
  momentum?: number;
}

export interface ModelOptions extends OptimizerOptions {
  seed?: number;
}

/**
 * A compiled CNN for 28×28×1 inputs in [0,1] and 10 classes. Every initialiser (and dropout) gets
 * its own seed derived from `seed`, so the same seed gives the same initial weights.
 *  - cnn-small: 2 conv layers (8, 16 filters of 5×5) and one dense layer; ~6k parameters, fastest.
 *  - cnn-wide: the same shape twice as wide (16, 32 filters of 5×5); ~18k parameters, about three
 *    times the work of cnn-small, and past 99% on MNIST in a few epochs: the default.
 *  - cnn-deep: 4 conv layers (16, 16, 32, 32 of 3×3), dense 64 with dropout; ~50k parameters.
 */
export function createModel(arch: ModelArch, opts: ModelOptions = {}): tf.LayersModel {
  const seeds = seedSequence(opts.seed ?? 42);
  const conv = (filters: number, kernelSize: number, first = false) =>
    tf.layers.conv2d({
      ...(first ? { inputShape: [...IMAGE_SHAPE] } : {}),
      filters,
      kernelSize,
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seeds() }),
    });
  const pool = () => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 });
  const dense = (units: number, activation: 'relu' | 'softmax') =>
    tf.layers.dense({ units, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds() }) });

  const model = tf.sequential({ name: arch.replace('-', '_') });
  const add = (...layers: tf.layers.Layer[]) => layers.forEach((l) => model.add(l));
  switch (arch) {
    case 'cnn-small':
      add(conv(8, 5, true), pool(), conv(16, 5), pool(), tf.layers.flatten(), dense(NUM_CLASSES, 'softmax'));
      break;
    case 'cnn-wide':
      add(conv(16, 5, true), pool(), conv(32, 5), pool(), tf.layers.flatten(), dense(NUM_CLASSES, 'softmax'));
      break;
    case 'cnn-deep':
      add(conv(16, 3, true), conv(16, 3), pool(), conv(32, 3), conv(32, 3), pool(), tf.layers.flatten(), dense(64, 'relu'));
      add(tf.layers.dropout({ rate: 0.25, seed: seeds() }), dense(NUM_CLASSES, 'softmax'));
      break;
  }
  compileModel(model, opts);
  return model;
}

/**
 * Compiles with the job's optimizer: Adam, or SGD with Nesterov momentum (plain SGD at momentum 0).
 * They are the fused versions of tf.train.adam / momentum / sgd (./optimizers): the same numbers
 * and checkpoints, one loop per variable instead of about ten engine ops.
 */
export function compileModel(model: tf.LayersModel, opts: OptimizerOptions = {}): void {
  model.compile({ optimizer: createOptimizer(opts), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

export function createOptimizer(opts: OptimizerOptions = {}): tf.Optimizer {
  const rate = opts.learningRate ?? 0.003;
  const momentum = opts.momentum ?? 0.9;
  if (opts.optimizer !== 'sgd') return new FusedAdamOptimizer(rate);
  return momentum > 0 ? new FusedMomentumOptimizer(rate, momentum, true) : new FusedSGDOptimizer(rate);
}

/** Distinct, reproducible seeds for each layer. */
function seedSequence(seed: number): () => number {
  let n = 0;
  return () => (seed * 1_000_003 + ++n * 7919) % 2_147_483_647;
}
