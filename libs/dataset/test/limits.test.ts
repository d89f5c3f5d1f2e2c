import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore, putJson, type ObjectStore } from '@mlpipe/storage';
import { pngDeclaring } from '@mlpipe/testing';
import { PIXELS, boundedReasons, decodeDigitPng, encodeIdx, readIncomingBatch, writeIncomingBatch, type IncomingLimits } from '../src';

const LIMITS: IncomingLimits = { maxBatchBytes: 64 * 1024, maxSamples: 50, maxCsvRows: 40 };
const manifest = (format: 'png-csv' | 'idx', files: object) => ({ schemaVersion: 1, dataset: 'mnist', split: 'train', format, files });

describe('incoming batch limits', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlpipe-limits-'));
    store = createObjectStore({ kind: 'fs', root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lets a batch within the limits through', async () => {
    const set = { images: new Uint8Array(10 * PIXELS).fill(7), labels: Uint8Array.from({ length: 10 }, (_, i) => i), count: 10 };
    await writeIncomingBatch(store, 'in/ok/', { dataset: 'mnist', split: 'train', format: 'idx', set });
    expect(await readIncomingBatch(store, 'in/ok/', LIMITS)).toMatchObject({ ok: true, set: { count: 10 } });
  });

  it('refuses a folder of more bytes than the limit from its listing, naming the setting', async () => {
    await store.put('in/big/images.idx', new Uint8Array(LIMITS.maxBatchBytes));
    await putJson(store, 'in/big/batch.json', manifest('idx', { images: 'images.idx', labels: 'labels.idx' }));
    const r = await readIncomingBatch(store, 'in/big/', LIMITS);
    expect(r).toMatchObject({ ok: false, reasons: [expect.stringMatching(/holds \d+ bytes; at most 65536 \(DATA_MAX_BATCH_BYTES\)/)] });
  });

  it('refuses an IDX pair of more samples than the limit', async () => {
    const n = LIMITS.maxSamples + 1;
    await store.put('in/many/images.idx', encodeIdx([n, 28, 28], new Uint8Array(n * PIXELS)));
    await store.put('in/many/labels.idx', encodeIdx([n], new Uint8Array(n)));
    await putJson(store, 'in/many/batch.json', manifest('idx', { images: 'images.idx', labels: 'labels.idx' }));
    const r = await readIncomingBatch(store, 'in/many/', { ...LIMITS, maxBatchBytes: 1 << 20 });
    expect(r).toMatchObject({ ok: false, reasons: [expect.stringMatching(/51 samples; at most 50 \(DATA_MAX_BATCH_SAMPLES\)/)] });
  });

  it('refuses a labels CSV of more rows than the limit before reading any PNG', async () => {
    const rows = Array.from({ length: LIMITS.maxCsvRows + 1 }, (_, i) => `missing-${i}.png,1`);
    await store.put('in/rows/labels.csv', new TextEncoder().encode(`file,label\n${rows.join('\n')}\n`));
    await putJson(store, 'in/rows/batch.json', manifest('png-csv', { labels: 'labels.csv' }));
    // Had the PNGs been looked for, every row would add a "missing" reason.
    expect(await readIncomingBatch(store, 'in/rows/', LIMITS)).toEqual({ ok: false, manifest: expect.anything(), reasons: ['labels.csv has 41 rows; at most 40 (DATA_MAX_CSV_ROWS)'] });
  });

  it('refuses a PNG declaring a huge size from its header, and keeps a rejection to 20 reasons', async () => {
    expect(decodeDigitPng(pngDeclaring(20000, 20000), 'bomb.png')).toEqual({ ok: false, reason: 'bomb.png is 20000×20000; expected 28×28' });
    const rows = Array.from({ length: 30 }, (_, i) => `bomb-${i}.png,1`);
    for (let i = 0; i < 30; i++) await store.put(`in/bombs/bomb-${i}.png`, pngDeclaring(20000, 20000));
    await store.put('in/bombs/labels.csv', new TextEncoder().encode(`${rows.join('\n')}\n`));
    await putJson(store, 'in/bombs/batch.json', manifest('png-csv', { labels: 'labels.csv' }));
    const started = performance.now();
    const r = await readIncomingBatch(store, 'in/bombs/', LIMITS);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reasons).toHaveLength(21);
      expect(r.reasons[0]).toBe('bomb-0.png is 20000×20000; expected 28×28');
      expect(r.reasons[20]).toBe('… and 10 more problems');
    }
    expect(boundedReasons(['a', 'b'], 2)).toEqual(['a', 'b']);
  });
});
