import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeEvents } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, mnistIncomingBatch, startS3Server } from '@mlpipe/testing';
import { DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import type { Envelope } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { loadDatasetVersion, readDatasetManifest, seedDataset, writeIncomingBatch } from '@mlpipe/dataset';
import { startWatcher, type RunningWatcher } from '../src/service';

const logger = createLogger('watcher-test', 'silent');
const config = loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '200' });

type Events = { validated: Envelope<'data.batch.validated'>[]; rejected: Envelope<'data.batch.rejected'>[] };


describe.each(['fs', 's3'] as const)('dataset watcher on real NATS, PostgreSQL and a %s store', (kind) => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: ObjectStore;
  let cleanupStore: () => Promise<void>;
  let watcher: RunningWatcher | undefined;
  const events: Events = { validated: [], rejected: [] };
  let stopConsumer: () => Promise<void>;

  const start = async () => {
    watcher = await startWatcher({ config, bus, pool, store, logger, metrics: createMetricsRegistry('w') });
    return watcher;
  };

  beforeEach(async () => {
    events.validated = [];
    events.rejected = [];
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    if (kind === 'fs') {
      const root = await mkdtemp(join(tmpdir(), 'mlpipe-w-'));
      store = createObjectStore({ kind: 'fs', root });
      cleanupStore = () => rm(root, { recursive: true, force: true });
    } else {
      const s3 = await startS3Server();
      store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'watcher-test', accessKey: s3.accessKey, secretKey: s3.secretKey });
      cleanupStore = s3.close;
    }
    const consumer = await consumeEvents(bus, {
      durable: 'test-data',
      logger,
      handlers: {
        'data.batch.validated': async (e) => void events.validated.push(e),
        'data.batch.rejected': async (e) => void events.rejected.push(e),
      },
    });
    stopConsumer = consumer.stop;
  });

  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await stopConsumer();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await cleanupStore();
  });

  it('accepts a good batch, rejects a corrupt one with the reason, and does not re-emit after a restart', async () => {
    await store.ensureReady();
    await writeIncomingBatch(store, 'incoming/good/', mnistIncomingBatch('train', 0, 300));
    const bad = mnistIncomingBatch('train', 300, 300);
    bad.set.labels[5] = 12; // a label outside 0-9
    await writeIncomingBatch(store, 'incoming/bad-label/', bad);
    await writeIncomingBatch(store, 'incoming/truncated/', mnistIncomingBatch('train', 600, 300));
    const images = await store.get('incoming/truncated/images.idx');
    await store.put('incoming/truncated/images.idx', images.subarray(0, 5000)); // cut after batch.json was written
    await store.put('incoming/half-written/images.idx', images); // no batch.json yet: not a batch

    await start();
    await eventually(() => events.validated.length === 1 && events.rejected.length === 2, 30_000);
    const v = events.validated[0]!.data;
    expect(v).toMatchObject({ batchId: 'good', split: 'train', samples: 300, datasetVersion: { trainSamples: 300, testSamples: 0 } });
    expect(v.classCounts.reduce((a, b) => a + b, 0)).toBe(300);
    const reasons = Object.fromEntries(events.rejected.map((e) => [e.data.batchId, e.data.reasons.join(' | ')]));
    expect(reasons['bad-label']).toMatch(/labels must be 0-9; found 12 \(1×\)/);
    expect(reasons.truncated).toMatch(/checksum mismatch|should hold/);

    // The normalised copy and the version are in the store, loadable by a trainer.
    const loaded = await loadDatasetVersion(store, 'mnist', v.datasetVersion.id);
    expect(loaded.train.count).toBe(300);

    // A test split makes a new version that covers both; the same content again is a duplicate.
    await writeIncomingBatch(store, 'incoming/test-split/', mnistIncomingBatch('test', 1000, 200));
    await writeIncomingBatch(store, 'incoming/good-again/', mnistIncomingBatch('train', 0, 300));
    await watcher!.scan();
    await eventually(() => events.validated.length === 2 && events.rejected.length === 3, 30_000);
    // The event names the manifest (key, counts, hash); the batches are in the manifest, which hashes as announced.
    const second = events.validated[1]!.data.datasetVersion;
    expect(second).toMatchObject({ trainSamples: 300, testSamples: 200, trainBatchCount: 1, testBatchCount: 1, manifestKey: `datasets/mnist/versions/${second.id}.json` });
    expect(second).not.toHaveProperty('trainBatches');
    const manifest = await readDatasetManifest(store, 'mnist', second.id, second.manifestSha256);
    expect(manifest.trainBatches).toEqual([v.contentHash]);
    expect(manifest.testBatches).toEqual([events.validated[1]!.data.contentHash]);
    expect(events.rejected[2]!.data.reasons.join()).toMatch(/300 of 300 samples are duplicates \(0 within the batch, 300 already known\)/);

    // Restart: nothing is processed or published again.
    await watcher!.stop();
    await start();
    await watcher!.scan();
    await new Promise((r) => setTimeout(r, 500));
    expect(events.validated).toHaveLength(2);
    expect(events.rejected).toHaveLength(3);
  });

  it('scans as soon as a bucket notification arrives on NATS, without waiting for the poll', async () => {
    await store.ensureReady();
    const subject = `${bus.namespace}.minio.events`;
    watcher = await startWatcher({
      config: { ...config, DATA_POLL_MS: 3_600_000, DATA_NOTIFY_SUBJECT: subject },
      bus,
      pool,
      store,
      logger,
      metrics: createMetricsRegistry('w'),
    });
    await eventually(async () => (await pool.query("select to_regclass('watcher.batches') as t")).rows[0]?.t !== null, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // the start-up scan has run and found nothing
    await writeIncomingBatch(store, 'incoming/notified/', mnistIncomingBatch('test', 0, 100));
    bus.nc.publish(subject, JSON.stringify({ EventName: 's3:ObjectCreated:Put', Key: 'mlpipe/incoming/notified/batch.json' }));
    await eventually(() => events.validated.length === 1, 10_000);
    expect(events.validated[0]!.data.batchId).toBe('notified');
  });

  it('seeds a limited MNIST as a train and a test batch', async () => {
    await store.ensureReady();
    const dropped = await seedDataset(store, 'incoming/', 'mnist', { trainLimit: 400, testLimit: 200 });
    expect(dropped.map((d) => [d.prefix, d.samples])).toEqual([
      ['incoming/mnist-test/', 200],
      ['incoming/mnist-train/', 400],
    ]);
    await start();
    await eventually(() => events.validated.length === 2, 30_000);
    expect(events.validated.at(-1)!.data.datasetVersion).toMatchObject({ trainSamples: 400, testSamples: 200 });
  });
});
