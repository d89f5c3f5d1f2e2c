import * as tf from '@tensorflow/tfjs';

export const MODEL_ARCHS = ['cnn-small', 'cnn-deep'] as const;
export type ModelArch = (typeof MODEL_ARCHS)[number];

export const IMAGE_SHAPE = [28, 28, 1] as const;
export const NUM_CLASSES = 10;

export interface ModelOptions {
  seed?: number;
  learningRate?: number;
}

/**
 * A compiled CNN for 28×28×1 inputs in [0,1] and 10 classes. Every initialiser (and dropout) gets
 * its own seed derived from `seed`, so the same seed gives the same initial weights.
 *  - cnn-small: 2 conv layers (8, 16 filters of 5×5) and one dense layer; ~6k parameters, fast.
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
  if (arch === 'cnn-small') {
    model.add(conv(8, 5, true));
    model.add(pool());
    model.add(conv(16, 5));
    model.add(pool());
    model.add(tf.layers.flatten());
    model.add(dense(NUM_CLASSES, 'softmax'));
  } else {
    model.add(conv(16, 3, true));
    model.add(conv(16, 3));
    model.add(pool());
    model.add(conv(32, 3));
    model.add(conv(32, 3));
    model.add(pool());
    model.add(tf.layers.flatten());
    model.add(dense(64, 'relu'));
    model.add(tf.layers.dropout({ rate: 0.25, seed: seeds() }));
    model.add(dense(NUM_CLASSES, 'softmax'));
  }
  compileModel(model, opts.learningRate ?? 0.003);
  return model;
}

export function compileModel(model: tf.LayersModel, learningRate: number): void {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

/** Distinct, reproducible seeds for each layer. */
function seedSequence(seed: number): () => number {
  let n = 0;
  return () => (seed * 1_000_003 + ++n * 7919) % 2_147_483_647;
}
