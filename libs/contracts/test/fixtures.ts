import type { EventData } from '../src';

const hash = (c: string) => c.repeat(64);

export const validatedBatch: EventData<'data.batch.validated'> = {
  batchId: 'mnist-train',
  sourcePrefix: 'incoming/mnist-train/',
  dataset: 'mnist',
  split: 'train',
  contentHash: hash('a'),
  samples: 100,
  classCounts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
  normalisedPrefix: 'datasets/mnist/batches/aaa/',
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
