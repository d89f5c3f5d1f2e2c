import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, startS3Server } from '@mlpipe/testing';
import { OrchestratorConfigSchema, DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { initBackend } from '@mlpipe/ml';
import { startWatcher } from '../services/dataset-watcher/src/service';
import { seedDataset } from '@mlpipe/dataset';
import { startOrchestrator } from '../services/orchestrator/src/service';
import { startTrainer } from '../services/trainer/src/service';
import { startRegistry } from '../services/registry/src/service';

const logger = createLogger('e2e', 'silent');

/**
 * The whole path with real NATS JetStream, PostgreSQL and an S3 API server: a batch dropped into
 * the bucket → validated dataset version → retraining decision → training → registered champion.
 */
describe('end to end: bucket → watcher → orchestrator → trainer → registry', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  let store: ObjectStore;
  const stops: (() => Promise<unknown>)[] = [];
  let registryUrl = '';

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url, 10);
    s3 = await startS3Server();
    store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'mlpipe-e2e', accessKey: s3.accessKey, secretKey: s3.secretKey });
    const metrics = () => createMetricsRegistry('e2e');
    const registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.8 }, bus, pool, store, logger, metrics: metrics() });
    registryUrl = await registry.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => registry.app.close(), registry.stop);
    const orchestrator = await startOrchestrator({
      config: loadConfig(OrchestratorConfigSchema, {
        DATABASE_URL: db.url,
        AUTO_RECIPE: 'plain',
        AUTO_HYPERPARAMS: JSON.stringify({ arch: 'cnn-small', epochs: 2, batchSize: 32, trainSubset: 0, testSubset: 0 }),
      }),
      bus,
      pool,
      logger,
      metrics: metrics(),
    });
    stops.push(orchestrator.stop);
    const backend = await initBackend('wasm');
    const trainer = await startTrainer({ bus, store, logger, metrics: metrics(), replicaId: 'e2e', backend: backend.name, codeVersion: 'e2e' });
    stops.push(trainer.stop);
    const watcher = await startWatcher({
      config: loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '300' }),
      bus,
      pool,
      store,
      logger,
      metrics: metrics(),
    });
    stops.push(watcher.stop);
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await s3.close();
  });

  it('turns MNIST dropped into the bucket into a registered champion', async () => {
    await seedDataset(store, 'incoming/', 'mnist', { trainLimit: 4000, testLimit: 1000 });
    const end = Date.now() + 240_000;
    let champion: { version: number; testAccuracy: number; runId: string } | undefined;
    while (!champion && Date.now() < end) {
      const res = await fetch(`${registryUrl}/models/mnist/aliases/champion`);
      if (res.ok) champion = (await res.json()) as typeof champion;
      else await new Promise((r) => setTimeout(r, 500));
    }
    expect(champion).toMatchObject({ version: 1 });
    expect(champion!.testAccuracy).toBeGreaterThan(0.9);

    // The orchestrator follows the job to its model version from the registry's event, which can
    // reach it a moment after the registry already answers with the champion.
    const job = await eventually(async () => {
      const j = await request(bus, 'orchestrator.jobs.get', { jobId: champion!.runId });
      return j.modelVersion ? j : undefined;
    }, 30_000, 'the orchestrator to link the job to its model version');
    expect(job).toMatchObject({ status: 'succeeded', modelVersion: 1, trigger: { kind: 'initial' } });
    expect(job.lastProgress?.epoch).toBe(2);

    // The registry knows the run, its data and the gate's reason.
    const run = (await (await fetch(`${registryUrl}/runs/${champion!.runId}`)).json()) as { datasetVersion: string; metrics: Record<string, number> };
    expect(run.datasetVersion).toBe(job.datasetVersion);
    expect(run.metrics.test_accuracy).toBeCloseTo(champion!.testAccuracy, 6);
    const audit = (await (await fetch(`${registryUrl}/audit?model=mnist`)).json()) as { entries: { action: string; reason: string }[] };
    expect(audit.entries.find((e) => e.action === 'alias.set')?.reason).toMatch(/first version to pass the gate/);

    // The artefacts are in the bucket, in the folder of the attempt that produced them.
    const { artefactPrefix } = (await (await fetch(`${registryUrl}/models/mnist/aliases/champion`)).json()) as { artefactPrefix: string };
    expect(artefactPrefix).toBe(`models/mnist/${champion!.runId}/attempt-1/`);
    for (const file of ['model.json', 'weights.bin', 'model-card.md', 'confusion.json']) {
      expect(await store.head(`${artefactPrefix}${file}`)).toBeDefined();
    }
  });
});
