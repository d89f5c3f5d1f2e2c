import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeEvents, publishEvent, request, type RunningConsumer } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase } from '@mlpipe/testing';
import { DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { storeKeys, type Envelope, type PredictionRecord } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { dilate, parseIdx, readSeedFile, seedDataset, PIXELS } from '@mlpipe/dataset';
import type { Registry } from 'prom-client';
import { startWatcher, type RunningWatcher } from '../src/service';

const logger = createLogger('drift-monitor-test', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const image = (i: number) => images.subarray(i * PIXELS, (i + 1) * PIXELS);

/** The drift monitor on real NATS, PostgreSQL and a folder store, fed prediction logs as the gateway writes them. */
describe('drift monitor in the dataset watcher', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root: string;
  let store: ObjectStore;
  let watcher: RunningWatcher;
  let metrics: Registry;
  let consumer: RunningConsumer;
  const validated: Envelope<'data.batch.validated'>[] = [];
  const drifts: Envelope<'data.drift.detected'>[] = [];
  let logs = 0;

  const writeLog = async (indices: number[], variant: PredictionRecord['variant'], transform: (img: Uint8Array) => Uint8Array = (x) => x) => {
    const lines = indices.map((i, k) =>
      JSON.stringify({
        predictionId: `p-${logs}-${k}`,
        at: new Date(Date.now() + k).toISOString(),
        model: 'mnist',
        version: 1,
        variant,
        class: labels[i] as number,
        confidence: 0.9,
        input28: Buffer.from(transform(image(i))).toString('base64'),
      } satisfies PredictionRecord),
    );
    await store.put(storeKeys.predictionLog('mnist', '2026-11-22', `log-${String(++logs).padStart(3, '0')}`), new TextEncoder().encode(lines.join('\n') + '\n'));
  };
  const windows = async (verdict: string) =>
    (await metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_drift_windows_total')?.values.find((v) => v.labels.verdict === verdict)?.value ?? 0;

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-drift-'));
    store = createObjectStore({ kind: 'fs', root });
    consumer = await consumeEvents(bus, {
      durable: 'test-data',
      logger,
      handlers: {
        'data.batch.validated': async (e) => void validated.push(e),
        'data.drift.detected': async (e) => void drifts.push(e),
      },
    });
    metrics = createMetricsRegistry('w');
    const config = loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '200', DRIFT_WINDOW: '200', DRIFT_POLL_MS: '600000' });
    watcher = await startWatcher({ config, bus, pool, store, logger, metrics });
    await seedDataset(store, 'incoming/', 'mnist', { trainLimit: 3000, testLimit: 500 });
    const version = await eventually(() => validated.map((e) => e.data.datasetVersion).find((v) => v.trainSamples === 3000 && v.testSamples === 500), 60_000, 'the seeded dataset version');
    await publishEvent(
      bus,
      'model.version.registered',
      { modelName: 'mnist', version: 1, runId: 'job-1', jobId: 'job-1', testAccuracy: 0.95, datasetVersion: version.id, trainSamples: 3000, artefactPrefix: 'models/mnist/job-1/', decision: { outcome: 'champion', reason: 'first' } },
      { source: 'test' },
    );
    await eventually(async () => (await pool.query('select 1 from watcher.model_versions')).rowCount || undefined, 10_000, 'the watcher to learn v1');
  }, 120_000);
  afterAll(async () => {
    await watcher.stop();
    await consumer.stop();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('judges an in-distribution window stable and says nothing', async () => {
    await writeLog(Array.from({ length: 200 }, (_, k) => k * 50), 'champion');
    await watcher.drift!.check();
    expect(await windows('stable')).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(drifts).toHaveLength(0);
  });

  it('ignores shadow answers (the same inputs, scored by the challenger)', async () => {
    await writeLog(Array.from({ length: 200 }, (_, k) => k * 50 + 1), 'shadow', dilate);
    await watcher.drift!.check();
    expect((await windows('stable')) + (await windows('drifted'))).toBe(1);
  });

  it('reports thickened digits as drift, with the evidence and the reference data', async () => {
    await writeLog(Array.from({ length: 200 }, (_, k) => k * 50 + 2), 'champion', dilate);
    await watcher.drift!.check();
    const event = await eventually(() => drifts[0], 10_000, 'a data.drift.detected event');
    expect(event.data).toMatchObject({ modelName: 'mnist', modelVersion: 1, window: { samples: 200 } });
    expect(event.data.referenceDatasetVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(event.data.reasons.join(' ')).toMatch(/ink_share|mean_intensity/);
    expect(event.data.tests.find((t) => t.name === 'ink_share')?.drifted).toBe(true);
    expect(await windows('drifted')).toBe(1);
    const psi = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'mlpipe_drift_psi')?.values.find((v) => v.labels.test === 'ink_share')?.value ?? 0;
    expect(psi).toBeGreaterThan(0.25);
  });

  it('keeps every judged window, newest first, the drifted one with the id of its event', async () => {
    const { windows: judged } = await request(bus, 'watcher.drift.windows', { modelName: 'mnist' });
    expect(judged.map((w) => w.drifted)).toEqual([true, false]);
    expect(judged[0]).toMatchObject({ modelName: 'mnist', modelVersion: 1, samples: 200, eventId: drifts[0]!.eventId });
    expect(judged[0]!.tests.find((t) => t.name === 'ink_share')).toMatchObject({ kind: 'ks', drifted: true });
    expect(judged[1]!.eventId).toBeNull();
    expect((await request(bus, 'watcher.drift.windows', { modelName: 'other' })).windows).toEqual([]);
  });
});
