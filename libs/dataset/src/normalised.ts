import { z } from 'zod';
import { ClassCountsSchema, DatasetNameSchema, Sha256Schema, SplitSchema, storeKeys, type DatasetName, type Split } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import { putJson, type ObjectStore } from '@mlpipe/storage';
import { encodeIdx, parseIdx } from './idx';
import { contentHash } from './hash';
import { IMAGE_SIDE, PIXELS, type LabelledImages } from './types';

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
