import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, mnistIncomingBatch } from '@mlpipe/testing';
import { DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { writeIncomingBatch } from '@mlpipe/dataset';
import { startWatcher, type RunningWatcher } from '../src/service';

const logger = createLogger('watcher-api-test', 'silent');
/** The watcher's read API on real NATS, PostgreSQL and a folder store: what the UI's data page shows. */
describe('dataset watcher request API', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root: string;
  let store: ObjectStore;
  let watcher: RunningWatcher;

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-wapi-'));
    store = createObjectStore({ kind: 'fs', root });
    await store.ensureReady();
    await writeIncomingBatch(store, 'incoming/a-train/', mnistIncomingBatch('train', 0, 300));
    await writeIncomingBatch(store, 'incoming/b-test/', mnistIncomingBatch('test', 300, 200));
    const bad = mnistIncomingBatch('train', 600, 300);
    bad.set.labels[3] = 12;
    bad.set.labels[4] = 11;
    await writeIncomingBatch(store, 'incoming/c-bad/', bad);
    watcher = await startWatcher({ config: loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '200', DRIFT_ENABLED: 'false' }), bus, pool, store, logger, metrics: createMetricsRegistry('w') });
    await eventually(async () => ((await request(bus, 'watcher.batches.list', {})).batches.length === 3 ? true : undefined), 30_000, 'three batches processed');
  }, 60_000);
  afterAll(async () => {
    await watcher?.stop();
    await bus?.dispose();
    await pool?.end();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('lists batches, a rejected one with every reason', async () => {
    const { batches } = await request(bus, 'watcher.batches.list', {});
    const bad = batches.find((b) => b.batchId === 'c-bad');
    expect(bad).toMatchObject({ status: 'rejected', sourcePrefix: 'incoming/c-bad/', samples: null });
    expect(bad!.reasons.join(' | ')).toMatch(/labels must be 0-9; found 11 \(1×\), 12 \(1×\)|labels must be 0-9; found 12 \(1×\), 11 \(1×\)/);
    expect(batches.find((b) => b.batchId === 'a-train')).toMatchObject({ status: 'validated', split: 'train', samples: 300, reasons: [] });
    const rejectedOnly = await request(bus, 'watcher.batches.list', { status: 'rejected' });
    expect(rejectedOnly.batches.map((b) => b.batchId)).toEqual(['c-bad']);
  });

  it('lists dataset versions newest first and says what one holds', async () => {
    const { versions } = await request(bus, 'watcher.datasets.list', { dataset: 'mnist' });
    expect(versions).toHaveLength(2);
    expect(versions[0]).toMatchObject({ trainSamples: 300, testSamples: 200, trainBatchCount: 1, testBatchCount: 1 });
    const contents = await request(bus, 'watcher.datasets.get', { id: versions[0]!.id });
    expect(contents.batches.map((b) => [b.split, b.sourcePrefix, b.samples])).toEqual([
      ['train', 'incoming/a-train/', 300],
      ['test', 'incoming/b-test/', 200],
    ]);
    await expect(request(bus, 'watcher.datasets.get', { id: 'f'.repeat(64) })).rejects.toThrow(/no dataset version f{64}/);
    await expect(request(bus, 'watcher.batches.list', { limit: 0 })).rejects.toThrow(/limit/);
  });
});
