import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIDE, type Augment, type Hyperparams } from '@mlpipe/contracts';
import { augmentInto } from './augment';
import type { OptimizerOptions } from './models';
import { imagesToTensor, PIXELS, type LabelledImages } from './preprocess';
import type { LrScheduleConfig } from './schedule';

/** What a job's hyperparameters say about training, beyond the net: rates, optimizer, augmentation. */
export interface Recipe {
  optimizer: OptimizerOptions;
  schedule: LrScheduleConfig;
  augment?: Augment;
}

export function recipeFrom(hp: Hyperparams, stepsPerEpoch: number): Recipe {
  return {
    optimizer: { learningRate: hp.learningRate, optimizer: hp.optimizer, momentum: hp.momentum },
    schedule: {
      schedule: hp.lrSchedule,
      learningRate: hp.learningRate,
      stepsPerEpoch,
      epochs: hp.epochs,
      everyEpochs: hp.lrStepEpochs,
      gamma: hp.lrStepGamma,
      warmupShare: hp.lrWarmupShare,
    },
    ...(hp.augment ? { augment: hp.augment } : {}),
  };
}

/** The samples of a batch, augmented for `epoch` when the recipe says so (the same pixels on every replica). */
export interface BatchAugment {
  config: Augment;
  seed: number;
  epoch: number;
}

/** How `epoch`'s batches are augmented under the recipe (undefined: not at all); keyed by the job's seed alone. */
export function augmentFor(recipe: Recipe, seed: number, epoch: number): BatchAugment | undefined {
  return recipe.augment ? { config: recipe.augment, seed, epoch } : undefined;
}

/** Training input for `order[start .. start+count)`: as imagesToTensor, or augmented per sample. */
export function trainingBatch(data: LabelledImages, order: ArrayLike<number>, start: number, count: number, augment?: BatchAugment): tf.Tensor4D {
  if (!augment) return imagesToTensor(data.images, count, order, start);
  const out = new Float32Array(count * PIXELS);
  augmentInto(out, data.images, order, start, count, augment.config, augment.seed, augment.epoch);
  return tf.tensor4d(out, [count, IMAGE_SIDE, IMAGE_SIDE, 1]);
}
