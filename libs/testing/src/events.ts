import { storeKeys, type DatasetVersion, type EventData } from '@mlpipe/contracts';

const hash = (c: string) => c.repeat(64);

/** What an event carries of a dataset version (counts, manifest key and hash), for tests that store no manifest. */
export function datasetVersionRef(id: string, trainSamples: number, testSamples: number): DatasetVersion {
  return { id, dataset: 'mnist', trainSamples, testSamples, trainBatchCount: 1, testBatchCount: 1, manifestKey: storeKeys.datasetVersion('mnist', id), manifestSha256: hash('e') };
}

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
    trainSamples: 100,
    testSamples: 0,
    trainBatchCount: 1,
    testBatchCount: 0,
    manifestKey: storeKeys.datasetVersion('mnist', hash('b')),
    manifestSha256: hash('c'),
  },
};
