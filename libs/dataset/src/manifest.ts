import { DatasetManifestSchema, storeKeys, type DatasetManifest, type DatasetName, type DatasetVersion } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { sha256Hex } from './hash';
import { readNormalisedBatch } from './normalised';
import { concatImages, type LabelledImages } from './types';

/** A dataset version's id: SHA-256 of its dataset and its ordered train then test batch hashes. */
function versionId(dataset: DatasetName, trainBatches: string[], testBatches: string[]): string {
  return sha256Hex(new TextEncoder().encode(`${dataset}\ntrain:${trainBatches.join(',')}\ntest:${testBatches.join(',')}`));
}

/** The manifest of the dataset version made of these batches, in order. */
export function computeDatasetManifest(dataset: DatasetName, train: { hash: string; samples: number }[], test: { hash: string; samples: number }[]): DatasetManifest {
  const trainBatches = train.map((b) => b.hash);
  const testBatches = test.map((b) => b.hash);
  return {
    id: versionId(dataset, trainBatches, testBatches),
    dataset,
    trainBatches,
    testBatches,
    trainSamples: train.reduce((n, b) => n + b.samples, 0),
    testSamples: test.reduce((n, b) => n + b.samples, 0),
  };
}

/** What events carry of a manifest: its counts, its key and the SHA-256 of the bytes stored there. */
function datasetVersionOf(manifest: DatasetManifest, bytes: Uint8Array): DatasetVersion {
  return {
    id: manifest.id,
    dataset: manifest.dataset,
    trainSamples: manifest.trainSamples,
    testSamples: manifest.testSamples,
    trainBatchCount: manifest.trainBatches.length,
    testBatchCount: manifest.testBatches.length,
    manifestKey: storeKeys.datasetVersion(manifest.dataset, manifest.id),
    manifestSha256: sha256Hex(bytes),
  };
}

/**
 * Stores the manifest (one put: visible whole or not at all) and returns what an event carries of
 * it. Publish only after this returns: the event then always names a manifest that exists.
 */
export async function writeDatasetManifest(store: ObjectStore, manifest: DatasetManifest): Promise<DatasetVersion> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(manifest)}\n`);
  await store.put(storeKeys.datasetVersion(manifest.dataset, manifest.id), bytes, { contentType: 'application/json' });
  return datasetVersionOf(manifest, bytes);
}

/**
 * Reads a dataset version's manifest and checks it is the version asked for: its id must hash
 * from its batch lists (and, given the event's hash, its bytes must match it), so a manifest
 * changed or mixed up in the store is refused instead of trained on.
 */
export async function readDatasetManifest(store: ObjectStore, dataset: DatasetName, id: string, expectedSha256?: string): Promise<DatasetManifest> {
  const key = storeKeys.datasetVersion(dataset, id);
  const bytes = await store.get(key);
  if (expectedSha256 !== undefined && sha256Hex(bytes) !== expectedSha256) throw new ValidationError(`${key} does not match the SHA-256 its event announced`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ValidationError(`${key} is not JSON`, { cause });
  }
  const parsed = DatasetManifestSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`${key} is not a dataset manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const m = parsed.data;
  if (m.dataset !== dataset || m.id !== id || versionId(m.dataset, m.trainBatches, m.testBatches) !== id) {
    throw new ValidationError(`${key} does not hash to dataset version ${id.slice(0, 12)}`);
  }
  return m;
}

/** Everything a trainer needs of a dataset version: its manifest and both splits, batches in order. */
export async function loadDatasetVersion(
  store: ObjectStore,
  dataset: DatasetName,
  versionId: string,
): Promise<{ version: DatasetManifest; train: LabelledImages; test: LabelledImages }> {
  const version = await readDatasetManifest(store, dataset, versionId);
  const load = async (hashes: string[]) => concatImages(await Promise.all(hashes.map((h) => readNormalisedBatch(store, dataset, h))));
  return { version, train: await load(version.trainBatches), test: await load(version.testBatches) };
}
