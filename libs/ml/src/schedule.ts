import type * as tf from '@tensorflow/tfjs';

export type LrScheduleName = 'constant' | 'step' | 'cosine' | 'one-cycle';

export interface LrScheduleConfig {
  schedule: LrScheduleName;
  /** The peak rate. */
  learningRate: number;
  stepsPerEpoch: number;
  epochs: number;
  /** step: multiply by `gamma` every `everyEpochs` epochs. */
  everyEpochs: number;
  gamma: number;
  /** one-cycle: share of all steps spent warming up from a tenth of the peak. */
  warmupShare: number;
}

/**
 * The learning rate for global step `step` (0-based, counted over the whole run, so a resumed run
 * and every replica of a group compute the same rate for the same step).
 */
export function learningRateAt(step: number, c: LrScheduleConfig): number {
  const total = Math.max(1, c.stepsPerEpoch * c.epochs);
  const progress = Math.min(1, step / total);
  switch (c.schedule) {
    case 'constant':
      return c.learningRate;
    case 'step':
      return c.learningRate * c.gamma ** Math.floor(step / (c.stepsPerEpoch * c.everyEpochs));
    case 'cosine':
      return c.learningRate * cosineDown(progress);
    case 'one-cycle': {
      const w = c.warmupShare;
      if (w > 0 && progress < w) return c.learningRate * (0.1 + (0.9 * progress) / w);
      return c.learningRate * cosineDown(w >= 1 ? 1 : (progress - w) / (1 - w));
    }
  }
}

/** 1 → 0 along half a cosine, ending at a thousandth of the start (never exactly 0: the last steps still learn). */
function cosineDown(p: number): number {
  return 0.001 + 0.999 * 0.5 * (1 + Math.cos(Math.PI * p));
}

/**
 * Sets the rate the model's optimizer applies from the next step on. tfjs optimizers fix their
 * rate at construction; Adam reads the field on every step and SGD/momentum keep a scalar that
 * setLearningRate renews, so both are handled here rather than by rebuilding the optimizer
 * (which would lose its moment estimates).
 */
export function setLearningRate(model: tf.LayersModel, rate: number): void {
  const opt = model.optimizer as unknown as { learningRate: number; setLearningRate?: (r: number) => void } | undefined;
  if (!opt) throw new Error('the model has no optimizer; compile it first');
  if (opt.setLearningRate) opt.setLearningRate(rate);
  else opt.learningRate = rate;
}
