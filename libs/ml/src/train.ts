import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { transformedTestSet } from './augment';
import { tally, type Evaluation } from './metrics';
import { imagesToTensor, labelsToOneHot, type LabelledImages } from './preprocess';
import { shuffledIndices } from './random';
import { augmentFor, trainingBatch, type Recipe } from './recipe';
import { learningRateAt, setLearningRate } from './schedule';

export interface EpochProgress {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  samplesPerSec: number;
  seconds: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Epochs already done (resuming from a checkpoint): training continues with epoch initialEpoch+1. */
  initialEpoch?: number;
  /**
   * Steps already done (resuming from a mid-epoch checkpoint), counted from the first epoch; wins
   * over initialEpoch. The seeded order makes the resumed run visit exactly the batches it missed.
   */
  initialStep?: number;
  /** The sums of the epoch that initialStep falls in, so its figures still cover the whole epoch. */
  partialEpoch?: EpochSoFar;
  /** Awaited after every step that does not end an epoch: the place for a checkpoint by time. */
  afterStep?: (at: { step: number; epochSoFar: EpochSoFar }) => Promise<void> | void;
  /** Awaited after every epoch: the place to checkpoint and report. */
  onEpoch?: (p: EpochProgress) => Promise<void> | void;
  onBatch?: (batch: number, batches: number) => void;
  /** Checked between batches; training stops with the signal's reason. */
  signal?: AbortSignal;
  /** Learning-rate schedule and augmentation (absent: the compiled rate, images as they are). */
  recipe?: Recipe;
}

/** The running sums of an epoch in progress (correct = accuracy × samples). */
export interface EpochSoFar {
  samples: number;
  lossSum: number;
  correct: number;
  seconds: number;
}

const EVAL_BATCH = 500;

/** The order an epoch visits the train set in: seeded by seed and epoch, shared by every replica. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  return shuffledIndices(count, seed * 10_007 + epoch);
}

/**
 * Minibatch training: each epoch visits the train set in a seeded order (seed + epoch, so a
 * resumed run sees the same order as an uninterrupted one), converting one batch at a time to
 * tensors (augmented when the recipe says so), setting the scheduled rate for each step, then
 * measures validation loss and accuracy.
 */
export async function trainModel(
  model: tf.LayersModel,
  data: { train: LabelledImages; validation?: LabelledImages },
  opts: TrainOptions,
): Promise<EpochProgress[]> {
  const history: EpochProgress[] = [];
  const { train } = data;
  const batches = Math.ceil(train.count / opts.batchSize);
  const firstStep = opts.initialStep ?? (opts.initialEpoch ?? 0) * batches;
  for (let epoch = Math.floor(firstStep / batches) + 1; epoch <= opts.epochs; epoch++) {
    const order = epochOrder(train.count, opts.seed, epoch);
    const firstBatch = epoch === Math.floor(firstStep / batches) + 1 ? firstStep % batches : 0;
    const carried = firstBatch > 0 ? opts.partialEpoch : undefined;
    const started = performance.now() - (carried?.seconds ?? 0) * 1000;
    let lossSum = carried?.lossSum ?? 0;
    let accSum = carried?.correct ?? 0;
    let samples = carried?.samples ?? 0;
    for (let b = firstBatch; b < batches; b++) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      const start = b * opts.batchSize;
      const size = Math.min(opts.batchSize, train.count - start);
      const xs = trainingBatch(train, order, start, size, opts.recipe && augmentFor(opts.recipe, opts.seed, epoch));
      const ys = labelsToOneHot(train.labels, size, order, start);
      if (opts.recipe) setLearningRate(model, learningRateAt((epoch - 1) * batches + b, opts.recipe.schedule));
      try {
        const [loss, acc] = (await model.trainOnBatch(xs, ys)) as number[];
        lossSum += (loss as number) * size;
        accSum += (acc as number) * size;
        samples += size;
      } finally {
        xs.dispose();
        ys.dispose();
      }
      opts.onBatch?.(b + 1, batches);
      if (b + 1 < batches) await opts.afterStep?.({ step: (epoch - 1) * batches + b + 1, epochSoFar: { samples, lossSum, correct: accSum, seconds: (performance.now() - started) / 1000 } });
      // Let timers and I/O (heartbeats, cancel messages) run between batches.
      if (b % 8 === 7) await new Promise((r) => setImmediate(r));
    }
    const seconds = (performance.now() - started) / 1000;
    const progress: EpochProgress = {
      epoch,
      epochs: opts.epochs,
      loss: lossSum / Math.max(1, samples),
      accuracy: accSum / Math.max(1, samples),
      samplesPerSec: train.count / seconds,
      seconds,
    };
    if (data.validation && data.validation.count > 0) {
      const v = evaluateWithLoss(model, data.validation);
      progress.valLoss = v.loss;
      progress.valAccuracy = v.accuracy;
    }
    history.push(progress);
    await opts.onEpoch?.(progress);
  }
  return history;
}

/** One seed for every model, so all of them are scored on the same transformed digits. */
export const TRANSFORMED_TEST_SEED = 2828;

/**
 * Accuracy on the held-out set with every image rotated, shifted, rescaled and re-stroked (seeded,
 * see transformedTestSet): how a model may fare on digits drawn in a browser rather than scanned.
 */
export function evaluateTransformed(model: tf.LayersModel, data: LabelledImages): number {
  return evaluateModel(model, transformedTestSet(data.images, data.labels, data.count, TRANSFORMED_TEST_SEED)).accuracy;
}

/** Accuracy overall and per class, and the confusion matrix, on a held-out set. */
export function evaluateModel(model: tf.LayersModel, data: LabelledImages): Evaluation {
  const predicted = predictClasses(model, data);
  return tally(data.labels.subarray(0, data.count), predicted);
}

export function predictClasses(model: tf.LayersModel, data: LabelledImages): Int32Array {
  const out = new Int32Array(data.count);
  for (let start = 0; start < data.count; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, data.count - start);
    const classes = tf.tidy(() => (model.predict(imagesToTensor(data.images, size, undefined, start)) as tf.Tensor).argMax(-1));
    out.set(classes.dataSync() as Int32Array, start);
    classes.dispose();
  }
  return out;
}

/** Mean loss and accuracy on a held-out set (per-epoch validation). */
export function evaluateWithLoss(model: tf.LayersModel, data: LabelledImages): { loss: number; accuracy: number } {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, data.count - start);
    const [loss, hits] = tf.tidy(() => {
      const probs = model.predict(imagesToTensor(data.images, size, undefined, start)) as tf.Tensor2D;
      const truth = labelsToOneHot(data.labels, size, undefined, start);
      const l = tf.metrics.categoricalCrossentropy(truth, probs).sum();
      const h = probs.argMax(-1).equal(truth.argMax(-1)).sum();
      return [l.dataSync()[0] as number, h.dataSync()[0] as number];
    });
    lossSum += loss;
    correct += hits;
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count };
}
