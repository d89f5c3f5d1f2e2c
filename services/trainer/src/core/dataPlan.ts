import { PIXELS, type Hyperparams, type LabelledImages } from '@mlpipe/contracts';

export function sliceSet(set: LabelledImages, start: number, end: number): LabelledImages {
  const from = Math.max(0, Math.min(start, set.count));
  const to = Math.max(from, Math.min(end, set.count));
  return {
    images: set.images.subarray(from * PIXELS, to * PIXELS),
    labels: set.labels.subarray(from, to),
    count: to - from,
  };
}

export interface DataPlan {
  train: LabelledImages;
  validation: LabelledImages | undefined;
  test: LabelledImages;
}

/**
 * Which samples a job trains, validates and tests on: the first `trainSubset` train samples
 * (all when 0), the last `validationShare` of those held out, and the first `testSubset` test
 * samples. Deterministic, so a resumed attempt sees exactly the same data.
 */
export function planData(train: LabelledImages, test: LabelledImages, hp: Hyperparams): DataPlan {
  const used = hp.trainSubset > 0 ? Math.min(hp.trainSubset, train.count) : train.count;
  const held = Math.floor(used * hp.validationShare);
  return {
    train: sliceSet(train, 0, used - held),
    validation: held > 0 ? sliceSet(train, used - held, used) : undefined,
    test: hp.testSubset > 0 ? sliceSet(test, 0, hp.testSubset) : test,
  };
}
