import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvent, request } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, writeMnistVersion } from '@mlpipe/testing';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { initBackend } from '@mlpipe/ml';
import { startOrchestrator } from '../services/orchestrator/src/service';
import { startTrainer } from '../services/trainer/src/service';
import { startRegistry } from '../services/registry/src/service';

const logger = createLogger('sweep-test', 'silent');

interface RunJson {
  runId: string;
  status: string;
  parentRunId: string | null;
  tags: Record<string, string>;
}

/** A grid sweep through the real orchestrator, trainer and registry (NATS, PostgreSQL, a folder store). */
describe('hyperparameter sweep: one parent run, a run per trial, a pruned trial, the best through the gate', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let dir: string;
  let store: ObjectStore;
  let registryUrl = '';
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url, 10);
    dir = await mkdtemp(join(tmpdir(), 'mlpipe-sweep-'));
    store = createObjectStore({ kind: 'fs', root: dir });
    const registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.5 }, bus, pool, store, logger, metrics: createMetricsRegistry('r') });
    registryUrl = await registry.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => registry.app.close(), registry.stop);
    const orchestrator = await startOrchestrator({
      config: loadConfig(OrchestratorConfigSchema, { DATABASE_URL: db.url, AUTO_TRAIN_ENABLED: 'false' }),
      bus,
      pool,
      logger,
      metrics: createMetricsRegistry('o'),
    });
    stops.push(orchestrator.stop);
    const backend = await initBackend('wasm');
    const trainer = await startTrainer({ bus, store, logger, metrics: createMetricsRegistry('t'), replicaId: 'sweeper', backend: backend.name, codeVersion: 'test' });
    stops.push(trainer.stop);
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the grid, prunes the hopeless trial by the median rule, and registers only the best', async () => {
    const version = await writeMnistVersion(store, 2000, 500);
    await publishEvent(
      bus,
      'data.batch.validated',
      { batchId: 'b-1', sourcePrefix: 'incoming/x/', dataset: 'mnist', split: 'train', contentHash: 'a'.repeat(64), samples: 2000, classCounts: Array(10).fill(200), normalisedPrefix: 'datasets/mnist/batches/a/', warnings: [], datasetVersion: version },
      { source: 'test' },
    );
    await eventually(async () => (await pool.query('select 1 from orchestrator.dataset_versions')).rowCount || undefined, 10_000, 'the orchestrator to learn the dataset version');

    const submitted = await request(bus, 'orchestrator.sweeps.submit', {
      hyperparams: { arch: 'cnn-small', epochs: 6, batchSize: 32, validationShare: 0.2 },
      // The third learning rate is hopeless: the median rule should stop it after its first epoch.
      sweep: { strategy: 'grid', space: { learningRate: [0.003, 0.002, 1e-7] }, earlyStopping: { rule: 'median', minEpochs: 1, minTrials: 3 } },
      reason: 'test sweep',
    });
    expect(submitted.trials.map((t) => t.hyperparams.learningRate)).toEqual([0.003, 0.002, 1e-7]);
    expect(submitted.status).toBe('running');

    const sweep = await eventually(
      async () => {
        const s = await request(bus, 'orchestrator.sweeps.get', { sweepId: submitted.sweepId });
        return s.status === 'running' ? undefined : s;
      },
      180_000,
      'the sweep to finish',
    );
    const [good1, good2, hopeless] = sweep.trials;
    expect(sweep.status).toBe('succeeded');
    expect(hopeless).toMatchObject({ status: 'cancelled', pruned: true });
    // Stopped early. The stop reaches the trainer while it trains on, so it may run an epoch or two past the
    // first; six epochs leave room for that under CI load (with three, it once ran all of them).
    expect(hopeless!.epochs).toBeLessThan(6);
    expect(hopeless!.statusReason).toMatch(/median rule at epoch 1/);
    expect([good1!.jobId, good2!.jobId]).toContain(sweep.bestJobId);
    const bestTrial = sweep.trials.find((t) => t.jobId === sweep.bestJobId)!;
    expect(bestTrial.valAccuracy).toBe(Math.max(good1!.valAccuracy!, good2!.valAccuracy!));

    // The registry: a parent run, three child runs, one version (the best trial's) through the gate.
    const model = await eventually(async () => {
      const res = await fetch(`${registryUrl}/models/mnist`);
      return res.ok ? ((await res.json()) as { versionList: { version: number; runId: string }[] }) : undefined;
    }, 30_000);
    expect(model.versionList.map((v) => v.runId)).toEqual([sweep.bestJobId]);
    const runs = await eventually(async () => {
      const { runs: all } = (await (await fetch(`${registryUrl}/experiments/mnist/runs`)).json()) as { runs: RunJson[] };
      const parent = all.find((r) => r.runId === submitted.sweepId);
      return parent?.status === 'finished' && all.find((r) => r.runId === hopeless!.jobId)?.status === 'killed' ? all : undefined;
    }, 30_000);
    const parent = runs.find((r) => r.runId === submitted.sweepId)!;
    expect(parent.tags).toMatchObject({ kind: 'sweep', best_run: sweep.bestJobId, trials: '3' });
    const children = runs.filter((r) => r.parentRunId === submitted.sweepId);
    expect(children.map((r) => r.runId).sort()).toEqual(sweep.trials.map((t) => t.jobId).sort());
    expect(children.find((r) => r.runId === hopeless!.jobId)?.tags.pruned).toBe('true');
    const best = await request(bus, 'orchestrator.jobs.get', { jobId: sweep.bestJobId! });
    expect(best).toMatchObject({ modelVersion: 1, sweep: { sweepId: submitted.sweepId } });
  }, 240_000);

  it('refuses a search space that varies nothing, and a grid over a range', async () => {
    await expect(request(bus, 'orchestrator.sweeps.submit', { sweep: { space: {} } })).rejects.toThrow(/varies nothing/);
    await expect(request(bus, 'orchestrator.sweeps.submit', { sweep: { strategy: 'grid', space: { learningRate: { min: 0.001, max: 0.01 } } } })).rejects.toThrow(/list of learning rates/);
  });
});
