import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, consumeEvents, publishEvent, request, streamNameOf, type Bus } from '@mlpipe/bus';
import { createPool } from '@mlpipe/db';
import { createTestDatabase, datasetVersionRef, startNatsServer } from '@mlpipe/testing';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { REQUESTS, type DatasetVersion, type Envelope } from '@mlpipe/contracts';
import { startOrchestrator } from '../src/service';

const logger = createLogger('orchestrator-outbox-test', 'silent');
const H = (c: string) => c.repeat(64);
const version: DatasetVersion = datasetVersionRef(H('1'), 1000, 200);

/** The ids of the TRAIN stream's messages, as the server stores them. */
async function trainStream(bus: Bus): Promise<string[]> {
  const name = streamNameOf(bus.namespace, 'TRAIN');
  const { state } = await bus.jsm.streams.info(name);
  const ids: string[] = [];
  for (let seq = state.first_seq; state.messages && seq <= state.last_seq; seq++) {
    const m = await bus.jsm.streams.getMessage(name, { seq });
    if (m) ids.push(m.header.get('Nats-Msg-Id'));
  }
  return ids;
}

describe('orchestrator jobs through the outbox while NATS is down', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** An orchestrator (automatic training off) on a nats-server of the test's own, knowing one dataset version. */
  const onOwnNats = async () => {
    const nats = await startNatsServer();
    cleanup.push(() => nats.dispose());
    const bus = await connectBus({ url: nats.url, name: 'orchestrator-outbox', namespace: `t${randomBytes(5).toString('hex')}` });
    cleanup.push(() => bus.close());
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const pool = await createPool(db.url);
    cleanup.push(() => pool.end());
    const config = loadConfig(OrchestratorConfigSchema, { DATABASE_URL: db.url, AUTO_TRAIN_ENABLED: 'false' });
    const orch = await startOrchestrator({ config, bus, pool, logger, metrics: createMetricsRegistry('orchestrator') });
    cleanup.push(() => orch.stop());
    await orch.repos.datasets.record(version);
    return { nats, bus, pool, orch };
  };

  it('a job created while publishing fails reaches the queue once NATS is back, and runs', async () => {
    // Given an orchestrator on a nats-server of the test's own, with a dataset version to train on.
    const { nats, bus, pool, orch } = await onOwnNats();

    // When NATS is down, a two-replica job is submitted (as a request already received would be)...
    await nats.stop();
    const job = await orch.jobs.submit(REQUESTS['orchestrator.jobs.submit'].request.parse({ replicas: 2, reason: 'during the outage' }));
    // ...it is created, queued, with both rank messages waiting in the outbox.
    expect(job).toMatchObject({ status: 'queued', replicas: 2 });
    await new Promise((r) => setTimeout(r, 1500)); // the relay tries, and cannot
    const waiting = await pool.query<{ event_id: string }>('select event_id from orchestrator.outbox where published_at is null order by id');
    expect(waiting.rows.map((r) => r.event_id)).toEqual([`train.job.requested:${job.jobId}`, `train.job.requested:${job.jobId}:rank1`]);

    // Then once NATS is back, both requests are on the queue once each, under their deterministic ids...
    await nats.start();
    const ids = await eventually(async () => {
      const s = await trainStream(bus).catch(() => []); // a request may time out while the client reconnects
      return s.length >= 2 ? s : undefined;
    }, 20_000, 'the job requests in the stream');
    expect(ids).toEqual([`train.job.requested:${job.jobId}`, `train.job.requested:${job.jobId}:rank1`]);

    // ...a trainer takes rank 0 and starts it, and the job leaves `queued` (retraining is no longer blocked).
    const taken: Envelope<'train.job.requested'>[] = [];
    const trainer = await consumeEvents(bus, { durable: 'test-trainer', logger, handlers: { 'train.job.requested': async (e) => void taken.push(e) } });
    cleanup.push(() => trainer.stop());
    const rank0 = await eventually(() => taken.find((e) => e.data.rank === 0), 10_000, 'rank 0 delivered');
    expect(rank0.data).toMatchObject({ jobId: job.jobId, replicas: 2, datasetVersion: version.id });
    // Both ranks carry the same secret for the group's frames; the job as the API shows it does not.
    const rank1 = await eventually(() => taken.find((e) => e.data.rank === 1), 10_000, 'rank 1 delivered');
    expect(rank0.data.groupKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rank1.data.groupKey).toBe(rank0.data.groupKey);
    expect(JSON.stringify(await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId }))).not.toContain(rank0.data.groupKey as string);
    await publishEvent(
      bus,
      'train.job.started',
      { jobId: job.jobId, modelName: 'mnist', replicaId: 'r1', attempt: 1, backend: 'wasm', resumedFromEpoch: 0, hyperparams: job.hyperparams, datasetVersion: job.datasetVersion, codeVersion: 'test' },
      { source: 'test' },
    );
    const running = await eventually(async () => {
      const j = await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId });
      return j.status === 'running' ? j : undefined;
    }, 20_000, 'the job running');
    expect(running.attempts).toBe(1);
  });

  it('a cancel commits the status and its request together; a refused cancel enqueues nothing', async () => {
    const { nats, bus, pool, orch } = await onOwnNats();
    const job = await orch.jobs.submit(REQUESTS['orchestrator.jobs.submit'].request.parse({}));

    await nats.stop();
    expect(await orch.jobs.cancel(job.jobId, 'not needed')).toMatchObject({ status: 'cancelled', statusReason: 'not needed' });
    await expect(orch.jobs.cancel(job.jobId, 'again')).rejects.toThrow(/already cancelled/);
    const rows = await pool.query<{ event_id: string }>(`select event_id from orchestrator.outbox where event_type = 'train.job.cancel-requested'`);
    expect(rows.rows.map((r) => r.event_id)).toEqual([`train.job.cancel-requested:${job.jobId}`]);

    await nats.start();
    const ids = await eventually(async () => {
      const s = await trainStream(bus).catch(() => []);
      return s.length >= 2 ? s : undefined;
    }, 20_000, 'the cancel request in the stream');
    expect(ids).toEqual([`train.job.requested:${job.jobId}`, `train.job.cancel-requested:${job.jobId}`]);
  });

  it('a sweep commits with its trials and their requests; its result is enqueued once, with the sweep closed', async () => {
    const { nats, bus, pool, orch } = await onOwnNats();

    // Given a two-trial sweep submitted while NATS is down.
    await nats.stop();
    const sweep = await orch.sweeps.submit(REQUESTS['orchestrator.sweeps.submit'].request.parse({ sweep: { strategy: 'grid', space: { learningRate: [0.01, 0.001] } } }));
    expect(sweep.trials.map((t) => t.status)).toEqual(['queued', 'queued']);
    // When both trials end (cancelled here) and the sweep looks twice, as a redelivered event makes it.
    for (const t of sweep.trials) {
      const job = await orch.jobs.cancel(t.jobId, 'test');
      await orch.sweeps.onTrialEnded(job);
      await orch.sweeps.onTrialEnded(job);
    }
    // Then the sweep is closed and its result waits in the outbox once, behind the trials' requests and cancels.
    expect((await orch.sweeps.get(sweep.sweepId)).status).toBe('failed');
    const queued = await pool.query<{ event_id: string }>('select event_id from orchestrator.outbox order by id');
    const [a, b] = sweep.trials.map((t) => t.jobId);
    expect(queued.rows.map((r) => r.event_id)).toEqual([
      `train.job.requested:${a}`,
      `train.job.requested:${b}`,
      `train.job.cancel-requested:${a}`,
      `train.job.cancel-requested:${b}`,
      `train.sweep.completed:${sweep.sweepId}`,
    ]);
    await nats.start();
    const ids = await eventually(async () => {
      const s = await trainStream(bus).catch(() => []);
      return s.length >= 5 ? s : undefined;
    }, 20_000, 'the sweep events in the stream');
    expect(ids).toEqual(queued.rows.map((r) => r.event_id));
  });
});
