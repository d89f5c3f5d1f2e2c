import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { request } from '@mlpipe/bus';
import { MlpipeError, QuotaExceededError, ValidationError } from '@mlpipe/common';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { createPool, type Pool } from '@mlpipe/db';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore } from '@mlpipe/storage';
import { createTestBus, createTestDatabase, validatedBatch, type TestBus } from '@mlpipe/testing';
import { TokenStore, localResolver } from '@mlpipe/auth';
import { startOrchestrator, type RunningOrchestrator } from '../../services/orchestrator/src/service';
import { buildUi } from '../../services/ui/src/app';

const logger = createLogger('quota-attack', 'silent');

/** What a request refused by the orchestrator throws on the caller's side (the error class and code it named). */
async function refusal(p: Promise<unknown>): Promise<MlpipeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MlpipeError) return err;
    throw err;
  }
  throw new Error('the request was accepted; expected a refusal');
}

/**
 * Quotas through the real request path: requests over NATS to a real orchestrator on PostgreSQL,
 * and the UI's HTTP in front of it. Small quotas, so the attack is cheap.
 */
describe('quotas (real orchestrator over NATS and PostgreSQL, and the UI in front)', () => {
  let bus: TestBus;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let orch: RunningOrchestrator;
  let ui: FastifyInstance;
  const bearer = { carol: {}, dave: {} } as Record<'carol' | 'dave', Record<string, string>>;

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    const config = loadConfig(OrchestratorConfigSchema, {
      DATABASE_URL: db.url,
      AUTO_TRAIN_ENABLED: 'false',
      QUOTA_MAX_EPOCHS: '5',
      QUOTA_MAX_REPLICAS: '2',
      QUOTA_MAX_BATCH_SIZE: '256',
      QUOTA_MAX_SWEEP_TRIALS: '3',
      QUOTA_MAX_ACTIVE_JOBS: '2',
    });
    orch = await startOrchestrator({ config, bus, pool, logger, metrics: createMetricsRegistry('quota') });
    // A trainable dataset version (both splits), as the watcher would have announced it.
    await orch.repos.datasets.record({ ...validatedBatch.datasetVersion, testSamples: 100 });
    const store = createObjectStore({ kind: 'fs', root: `node_modules/.scratch/quota-${bus.namespace}` });
    // Operators signed in with API tokens (a real token table): the UI sends their names as submittedBy.
    const tokens = new TokenStore(pool);
    await tokens.migrate();
    for (const name of ['carol', 'dave'] as const) bearer[name] = { authorization: `Bearer ${(await tokens.create(name, 'operator')).token}` };
    ui = await buildUi({
      bus,
      gatewayUrl: 'http://127.0.0.1:9',
      registryUrl: 'http://127.0.0.1:9',
      store,
      dataPrefix: 'incoming/',
      metrics: createMetricsRegistry('quota-ui'),
      logger,
      auth: { resolve: localResolver({ tokens }) },
    });
  });

  afterAll(async () => {
    await ui?.close();
    await orch?.stop();
    await bus?.dispose();
    await pool?.end();
    await db?.drop();
  });

  it('refuses a job past a cap with 400-style "invalid" and the reason, and creates nothing', async () => {
    const epochs = await refusal(request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 6 }, submittedBy: 'mallory' }));
    expect(epochs).toBeInstanceOf(ValidationError);
    expect(epochs.message).toMatch(/6 epochs; at most 5 \(QUOTA_MAX_EPOCHS\)/);
    expect((await refusal(request(bus, 'orchestrator.jobs.submit', { replicas: 3, submittedBy: 'mallory' }))).message).toMatch(/3 replicas; at most 2/);
    expect((await refusal(request(bus, 'orchestrator.jobs.submit', { hyperparams: { batchSize: 4096 }, submittedBy: 'mallory' }))).message).toMatch(/batch size of 4096; at most 256/);
    const { jobs } = await request(bus, 'orchestrator.jobs.list', {});
    expect(jobs.filter((j) => j.submittedBy === 'mallory')).toEqual([]);
  });

  it('refuses an oversized sweep, and a sweep whose trial is past a cap, before any trial exists', async () => {
    const big = await refusal(
      request(bus, 'orchestrator.sweeps.submit', { sweep: { strategy: 'grid', space: { learningRate: [0.1, 0.01, 0.001, 0.0001] } }, submittedBy: 'mallory' }),
    );
    expect(big).toBeInstanceOf(ValidationError);
    expect(big.message).toMatch(/the sweep has 4 trials; at most 3 \(QUOTA_MAX_SWEEP_TRIALS\)/);
    const long = await refusal(request(bus, 'orchestrator.sweeps.submit', { sweep: { strategy: 'grid', space: { epochs: [1, 50] } }, submittedBy: 'mallory' }));
    expect(long.message).toMatch(/trial 1 asks for 50 epochs; at most 5/);
    const { rows } = await pool.query('select count(*)::int as n from orchestrator.sweeps');
    expect(rows[0]).toEqual({ n: 0 });
  });

  it('holds each principal to its concurrent jobs, even when its submissions race, and counts "anonymous" for requests without one', async () => {
    // Five submissions at once: the per-principal lock lets exactly two through.
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 }, submittedBy: 'alice' })));
    const accepted = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(accepted).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const err of refused) {
      expect(err).toBeInstanceOf(QuotaExceededError);
      expect((err as QuotaExceededError).code).toBe('quota_exceeded');
      expect((err as Error).message).toMatch(/alice has 2 jobs queued or running; 1 more would pass the quota of 2/);
    }
    // Another principal is not held to alice's count; an anonymous one has its own.
    await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 }, submittedBy: 'bob' });
    await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 } });
    await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 } });
    expect((await refusal(request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 } }))).message).toMatch(/^anonymous has 2 jobs/);
    // A sweep counts all its trials: alice has no room for two.
    expect(await refusal(request(bus, 'orchestrator.sweeps.submit', { sweep: { strategy: 'grid', space: { epochs: [1, 2] } }, submittedBy: 'alice' }))).toBeInstanceOf(QuotaExceededError);
    // Once one of alice's jobs ends, she may submit one more.
    const first = accepted[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof request<'orchestrator.jobs.submit'>>>>;
    expect(first.value.submittedBy).toBe('alice');
    await request(bus, 'orchestrator.jobs.cancel', { jobId: first.value.jobId });
    const again = await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 }, submittedBy: 'alice' });
    expect(again).toMatchObject({ status: 'queued', submittedBy: 'alice' });
  });

  it('answers through the UI with 429 or 400 and the reason, never a 500', async () => {
    // carol fills her quota, then asks once more through the UI's HTTP.
    for (let i = 0; i < 2; i++) await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 }, submittedBy: 'carol' });
    // What the body claims is not who asks: the session's principal is.
    const busy = await ui.inject({ method: 'POST', url: '/api/jobs', headers: bearer.carol, payload: { hyperparams: { epochs: 1 }, submittedBy: 'somebody-else' } });
    expect(busy.statusCode).toBe(429);
    expect(busy.json()).toEqual({ code: 'quota_exceeded', error: expect.stringMatching(/carol has 2 jobs queued or running/) });
    const capped = await ui.inject({ method: 'POST', url: '/api/jobs', headers: bearer.dave, payload: { hyperparams: { epochs: 99 } } });
    expect(capped.statusCode).toBe(400);
    expect(capped.json()).toEqual({ code: 'invalid', error: expect.stringMatching(/99 epochs; at most 5/) });
  });
});
