import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@mlpipe/db';
import { createTestDatabase, datasetVersionRef } from '@mlpipe/testing';
import { createOutbox } from '@mlpipe/outbox';
import { HyperparamsSchema, type DatasetVersion } from '@mlpipe/contracts';
import { ORCHESTRATOR_SCHEMA, migrations } from '../src/adapters/migrations';
import { openRepositories, type Repositories } from '../src/adapters/repositories';

const H = (c: string) => c.repeat(64);
const version = (id: string, trainSamples: number): DatasetVersion => datasetVersionRef(id, trainSamples, 100);
const hyperparams = HyperparamsSchema.parse({});

describe('the retraining context, read in one statement', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let repos: Repositories;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = await createPool(db.url);
    await migrate(pool, ORCHESTRATOR_SCHEMA, migrations);
    repos = openRepositories(pool, createOutbox(ORCHESTRATOR_SCHEMA, 'test'));
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('holds the newest version, the champion, the jobs and the open drift as they stand', async () => {
    // Given nothing: no version of the dataset, so nothing to weigh.
    expect(await repos.retrainFacts('mnist', 'mnist')).toBeUndefined();

    // Given a first version and no champion.
    await repos.datasets.record(version(H('1'), 1000));
    expect(await repos.retrainFacts('mnist', 'mnist')).toEqual({
      latest: version(H('1'), 1000),
      champion: null,
      activeJob: false,
      jobExistsForVersion: false,
      drift: null,
    });

    // Given a queued job on it: active, and one exists for the version (a failed one would not count).
    const { job } = await repos.jobs.createOnce({
      jobId: 'job-1',
      idempotencyKey: 'k1',
      modelName: 'mnist',
      dataset: 'mnist',
      datasetVersion: H('1'),
      hyperparams,
      replicas: 1,
      trigger: { kind: 'initial', reason: 'test' },
    });
    expect(await repos.retrainFacts('mnist', 'mnist')).toMatchObject({ activeJob: true, jobExistsForVersion: true });
    await repos.jobs.signal(job.jobId, 'failed', { reason: 'test' });
    expect(await repos.retrainFacts('mnist', 'mnist')).toMatchObject({ activeJob: false, jobExistsForVersion: false });

    // Given a champion trained on that version, a newer version and open drift: the champion has seen its whole version.
    await repos.models.recordVersion({ modelName: 'mnist', version: 1, jobId: 'job-1', trainSamples: 500, datasetVersion: H('1'), artefactPrefix: 'models/mnist/job-1/' });
    await repos.models.setChampion('mnist', 1);
    await repos.datasets.record(version(H('2'), 1300));
    await repos.drift.record('ev-1', 'mnist', 1, ['ink_share: PSI 4']);
    const facts = await repos.retrainFacts('mnist', 'mnist');
    expect(facts).toEqual({
      latest: version(H('2'), 1300),
      champion: { version: 1, trainSamples: 1000, datasetVersion: H('1'), artefactPrefix: 'models/mnist/job-1/' },
      activeJob: false,
      jobExistsForVersion: false,
      drift: { version: 1, reasons: ['ink_share: PSI 4'] },
    });

    // Drift answered by a job is no longer open; another model sees none of this model's jobs or drift.
    await repos.drift.resolve('mnist', 'job-2');
    expect((await repos.retrainFacts('mnist', 'mnist'))?.drift).toBeNull();
    expect(await repos.retrainFacts('fashion', 'mnist')).toMatchObject({ champion: null, activeJob: false, drift: null });
  });
});
