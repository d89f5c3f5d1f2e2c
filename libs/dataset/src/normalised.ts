import { z } from 'zod';
import {
  ClassCountsSchema,
  DatasetNameSchema,
  DatasetVersionSchema,
  Sha256Schema,
  SplitSchema,
  storeKeys,
  type DatasetName,
  type DatasetVersion,
  type Split,
} from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import { getJson, putJson, type ObjectStore } from '@mlpipe/storage';
import { encodeIdx, parseIdx } from './idx';
import { contentHash, sha256Hex } from './hash';
import { IMAGE_SIDE, PIXELS, concatImages, type LabelledImages } from './types';

export const NormalisedBatchManifestSchema = z
  .object({
    dataset: DatasetNameSchema,
    split: SplitSchema,
    samples: z.number().int().positive(),
    classCounts: ClassCountsSchema,
    contentHash: Sha256Schema,
    sourcePrefix: z.string(),
    createdAt: z.string(),
  })
  .strict();
export type NormalisedBatchManifest = z.infer<typeof NormalisedBatchManifestSchema>;

/** Writes the normalised copy: the two IDX files first, manifest.json last (its presence = complete). */
export async function writeNormalisedBatch(
  store: ObjectStore,
  set: LabelledImages,
  meta: { dataset: DatasetName; split: Split; classCounts: number[]; sourcePrefix: string },
): Promise<{ prefix: string; manifest: NormalisedBatchManifest }> {
  const hash = contentHash(set);
  const prefix = storeKeys.normalisedBatch(meta.dataset, hash);
  await store.put(storeKeys.normalisedFile(prefix, 'images'), encodeIdx([set.count, IMAGE_SIDE, IMAGE_SIDE], set.images.subarray(0, set.count * PIXELS)));
  await store.put(storeKeys.normalisedFile(prefix, 'labels'), encodeIdx([set.count], set.labels.subarray(0, set.count)));
  const manifest: NormalisedBatchManifest = {
    dataset: meta.dataset,
    split: meta.split,
    samples: set.count,
    classCounts: meta.classCounts,
    contentHash: hash,
    sourcePrefix: meta.sourcePrefix,
    createdAt: new Date().toISOString(),
  };
  await putJson(store, storeKeys.normalisedFile(prefix, 'manifest'), manifest);
  return { prefix, manifest };
}

/** Reads a normalised batch and checks it still hashes to its name. */
export async function readNormalisedBatch(store: ObjectStore, dataset: DatasetName, hash: string): Promise<LabelledImages> {
  const prefix = storeKeys.normalisedBatch(dataset, hash);
  const read = async (file: 'images' | 'labels') => parseIdx(await store.get(storeKeys.normalisedFile(prefix, file)), storeKeys.normalisedFile(prefix, file));
  const [images, labels] = [await read('images'), await read('labels')];
  const set = { images: images.data, labels: labels.data, count: labels.dims[0] as number };
  if (contentHash(set) !== hash) throw new ValidationError(`normalised batch ${hash.slice(0, 12)} does not match its content hash`);
  return set;
}

/** A dataset version's id: SHA-256 of its ordered train then test batch hashes. */
export function computeDatasetVersion(dataset: DatasetName, train: { hash: string; samples: number }[], test: { hash: string; samples: number }[]): DatasetVersion {
  const canonical = `${dataset}\ntrain:${train.map((b) => b.hash).join(',')}\ntest:${test.map((b) => b.hash).join(',')}`;
  return {
    id: sha256Hex(new TextEncoder().encode(canonical)),
    dataset,
    trainBatches: train.map((b) => b.hash),
    testBatches: test.map((b) => b.hash),
    trainSamples: train.reduce((n, b) => n + b.samples, 0),
    testSamples: test.reduce((n, b) => n + b.samples, 0),
  };
}

export async function writeDatasetVersion(store: ObjectStore, v: DatasetVersion): Promise<void> {
  await putJson(store, storeKeys.datasetVersion(v.dataset, v.id), v);
}

/** Everything a trainer needs of a dataset version: its description and both splits, batches in order. */
export async function loadDatasetVersion(
  store: ObjectStore,
  dataset: DatasetName,
  versionId: string,
): Promise<{ version: DatasetVersion; train: LabelledImages; test: LabelledImages }> {
  const version = await getJson(store, storeKeys.datasetVersion(dataset, versionId), DatasetVersionSchema);
  const load = async (hashes: string[]) => concatImages(await Promise.all(hashes.map((h) => readNormalisedBatch(store, dataset, h))));
  return { version, train: await load(version.trainBatches), test: await load(version.testBatches) };
}
