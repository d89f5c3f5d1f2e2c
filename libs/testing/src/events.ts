import { storeKeys, type EventData } from '@mlpipe/contracts';

const hash = (c: string) => c.repeat(64);

/** A valid data.batch.validated payload: 100 MNIST train samples making a one-batch dataset version. */
export const validatedBatch: EventData<'data.batch.validated'> = {
  batchId: 'mnist-train',
  sourcePrefix: 'incoming/mnist-train/',
  dataset: 'mnist',
  split: 'train',
  contentHash: hash('a'),
  samples: 100,
  classCounts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
  normalisedPrefix: storeKeys.normalisedBatch('mnist', hash('a')),
  warnings: [],
  datasetVersion: {
    id: hash('b'),
    dataset: 'mnist',
    trainBatches: [hash('a')],
    testBatches: [],
    trainSamples: 100,
    testSamples: 0,
  },
};
