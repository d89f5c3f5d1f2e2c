import type { DatasetName, IncomingBatchManifest, Split } from '@mlpipe/contracts';
import { encodeIdx, parseIdx, readSeedFile, sha256Hex, PIXELS, type SeedFile } from '@mlpipe/dataset';
import { putJson, type ObjectStore } from '@mlpipe/storage';
import { MANIFEST_FILE } from '@mlpipe/dataset';

/** Drops an IDX batch into the store the way a person should: data files first, batch.json last. */
export async function dropIdxBatch(
  store: ObjectStore,
  prefix: string,
  batch: { dataset: DatasetName; split: Split; images: Uint8Array; labels: Uint8Array; note?: string },
): Promise<string> {
  const files = { images: 'images.idx', labels: 'labels.idx' };
  await store.put(`${prefix}${files.images}`, batch.images);
  await store.put(`${prefix}${files.labels}`, batch.labels);
  const manifest: IncomingBatchManifest = {
    schemaVersion: 1,
    dataset: batch.dataset,
    split: batch.split,
    format: 'idx',
    files,
    sha256: { [files.images]: sha256Hex(batch.images), [files.labels]: sha256Hex(batch.labels) },
    ...(batch.note ? { note: batch.note } : {}),
  };
  await putJson(store, `${prefix}${MANIFEST_FILE}`, manifest);
  return prefix;
}

const SPLIT_FILES: Record<Split, { images: SeedFile; labels: SeedFile }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/**
 * `mlpipe-data seed`: the base dataset, checksum-verified, dropped as two incoming batches
 * (`<name>-train/`, `<name>-test/`). A limit keeps the first N samples of a split.
 */
export async function seedDataset(
  store: ObjectStore,
  dataPrefix: string,
  dataset: DatasetName,
  opts: { trainLimit?: number | undefined; testLimit?: number | undefined; batchName?: string } = {},
): Promise<{ prefix: string; split: Split; samples: number }[]> {
  const name = opts.batchName ?? dataset;
  const out: { prefix: string; split: Split; samples: number }[] = [];
  for (const split of ['test', 'train'] as const) {
    const images = parseIdx(readSeedFile(dataset, SPLIT_FILES[split].images));
    const labels = parseIdx(readSeedFile(dataset, SPLIT_FILES[split].labels));
    const total = labels.dims[0] as number;
    const limit = split === 'train' ? opts.trainLimit : opts.testLimit;
    const n = limit && limit > 0 ? Math.min(limit, total) : total;
    const prefix = `${dataPrefix}${name}-${split}/`;
    await dropIdxBatch(store, prefix, {
      dataset,
      split,
      images: encodeIdx([n, 28, 28], images.data.subarray(0, n * PIXELS)),
      labels: encodeIdx([n], labels.data.subarray(0, n)),
      note: n < total
        ? `first ${n} of ${total} ${split} samples of ${dataset}; the full files matched their published SHA-256 before cutting`
        : `${dataset} ${split} split; files match their published SHA-256`,
    });
    out.push({ prefix, split, samples: n });
  }
  return out;
}
