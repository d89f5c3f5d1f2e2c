import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeEvents, publishEvent, request } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, datasetVersionRef } from '@mlpipe/testing';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { storeKeys, type Envelope, type EventData } from '@mlpipe/contracts';
import { startOrchestrator, type RunningOrchestrator } from '../src/service';

const logger = createLogger('orchestrator-test', 'silent');
const H = (c: string) => c.repeat(64);

const validated = (train: number, test: number, id: string): EventData<'data.batch.validated'> => ({
  batchId: `b-${id[0]}`,
  sourcePrefix: 'incoming/x/',
  dataset: 'mnist',
  split: 'train',
  contentHash: H('a'),
  samples: 100,
  classCounts: Array(10).fill(10),
  normalisedPrefix: 'datasets/mnist/batches/a/',
  warnings: [],
  datasetVersion: datasetVersionRef(id, train, test),
});


describe('orchestrator with real NATS and PostgreSQL', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let running: RunningOrchestrator | undefined;
  const requested: Envelope<'train.job.requested'>[] = [];

  const start = async () => {
    const config = loadConfig(OrchestratorConfigSchema, { DATABASE_URL: db.url, RETRAIN_MIN_NEW_SAMPLES: '500' });
    running = await startOrchestrator({ config, bus, pool, logger, metrics: createMetricsRegistry('orchestrator') });
    return running;
  };

  beforeEach(async () => {
    requested.length = 0;
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await bus.dispose();
    await pool.end();
    await db.drop();
  });

  it('starts one job for a new dataset version even when the event is delivered twice', async () => {
    const orch = await start();
    const watcher = await consumeEvents(bus, {
      durable: 'test-requested',
      logger,
      handlers: { 'train.job.requested': async (e) => void requested.push(e) },
    });
    const data = validated(1000, 200, H('1'));
    await publishEvent(bus, 'data.batch.validated', data, { source: 'test', eventId: 'ev-1' });
    await publishEvent(bus, 'data.batch.validated', data, { source: 'test', eventId: 'ev-1-redelivered-with-new-id' });
    await eventually(async () => (requested.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 800));
    await watcher.stop();
    const { jobs } = await request(bus, 'orchestrator.jobs.list', {});
    expect(jobs).toHaveLength(1);
    expect(requested).toHaveLength(1);
    expect(requested[0]?.data).toMatchObject({ jobId: jobs[0]?.jobId, datasetVersion: H('1'), trigger: { kind: 'initial' } });
    expect(jobs[0]?.status).toBe('queued');
    await orch.stop();
  });

  it('keeps job state across a restart and follows the job to its registered model', async () => {
    await start();
    await publishEvent(bus, 'data.batch.validated', validated(1000, 200, H('2')), { source: 'test' });
    const job = await eventually(async () => (await request(bus, 'orchestrator.jobs.list', {})).jobs[0]);
    await publishEvent(
      bus,
      'train.job.started',
      {
        jobId: job.jobId,
        modelName: 'mnist',
        replicaId: 'r1',
        attempt: 1,
        backend: 'wasm',
        resumedFromEpoch: 0,
        hyperparams: job.hyperparams,
        datasetVersion: job.datasetVersion,
        codeVersion: 'test',
      },
      { source: 'test' },
    );
    await eventually(async () => ((await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId })).status === 'running' ? true : undefined));

    // Restart: a new process sees the same state, from PostgreSQL.
    await running?.stop();
    await start();
    const afterRestart = await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId });
    expect(afterRestart).toMatchObject({ status: 'running', attempts: 1 });

    await publishEvent(
      bus,
      'model.version.registered',
      {
        modelName: 'mnist',
        version: 1,
        runId: job.jobId,
        jobId: job.jobId,
        testAccuracy: 0.98,
        datasetVersion: job.datasetVersion,
        trainSamples: 1000,
        artefactPrefix: storeKeys.modelArtefacts('mnist', job.jobId),
        decision: { outcome: 'champion', reason: 'first model' },
      },
      { source: 'test' },
    );
    const done = await eventually(async () => {
      const j = await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId });
      return j.modelVersion ? j : undefined;
    });
    expect(done).toMatchObject({ status: 'succeeded', modelVersion: 1 });

    // 300 new samples: below the threshold, no job; 600: a new-data job.
    await publishEvent(bus, 'data.batch.validated', validated(1300, 200, H('3')), { source: 'test' });
    await new Promise((r) => setTimeout(r, 800));
    expect((await request(bus, 'orchestrator.jobs.list', {})).jobs).toHaveLength(1);
    await publishEvent(bus, 'data.batch.validated', validated(1600, 200, H('4')), { source: 'test' });
    const second = await eventually(async () => {
      const { jobs } = await request(bus, 'orchestrator.jobs.list', {});
      return jobs.length === 2 ? jobs[0] : undefined;
    });
    expect(second?.trigger).toEqual({ kind: 'new-data', reason: '600 new train samples since champion v1 (threshold 500)' });
  });

  it('retrains on drift as soon as a little new labelled data arrives, and records why', async () => {
    await start();
    await publishEvent(bus, 'data.batch.validated', validated(1000, 200, H('6')), { source: 'test' });
    const first = await eventually(async () => (await request(bus, 'orchestrator.jobs.list', {})).jobs[0]);
    await publishEvent(
      bus,
      'model.version.registered',
      { modelName: 'mnist', version: 1, runId: first.jobId, jobId: first.jobId, testAccuracy: 0.98, datasetVersion: H('6'), trainSamples: 1000, artefactPrefix: storeKeys.modelArtefacts('mnist', first.jobId), decision: { outcome: 'champion', reason: 'first model' } },
      { source: 'test' },
    );
    await eventually(async () => ((await request(bus, 'orchestrator.jobs.get', { jobId: first.jobId })).modelVersion ? true : undefined));
    const drift: EventData<'data.drift.detected'> = {
      modelName: 'mnist',
      modelVersion: 1,
      referenceDatasetVersion: H('6'),
      window: { from: new Date().toISOString(), to: new Date().toISOString(), samples: 200 },
      reasons: ['ink_share: PSI 4.075, KS D 0.700 (p=1.6e-189)'],
      tests: [],
    };
    await publishEvent(bus, 'data.drift.detected', drift, { source: 'test', eventId: 'drift-1' });
    await eventually(async () => (await pool.query('select 1 from orchestrator.drift_alerts')).rowCount || undefined);
    // No new labelled data yet: nothing to learn the shift from.
    expect((await request(bus, 'orchestrator.jobs.list', {})).jobs).toHaveLength(1);
    // 80 new samples: far below the new-data threshold (500), enough after drift (50).
    await publishEvent(bus, 'data.batch.validated', validated(1080, 200, H('7')), { source: 'test' });
    const second = await eventually(async () => {
      const { jobs } = await request(bus, 'orchestrator.jobs.list', {});
      return jobs.length === 2 ? jobs[0] : undefined;
    });
    expect(second?.trigger.kind).toBe('drift');
    expect(second?.trigger.reason).toMatch(/drift on champion v1 \(ink_share: PSI 4.075.*\); 80 new labelled train samples/);
    const alert = await pool.query<{ resolved_by_job: string }>('select resolved_by_job from orchestrator.drift_alerts');
    expect(alert.rows[0]?.resolved_by_job).toBe(second?.jobId);
    // The UI's drift view: the alert with the retraining it caused.
    const { alerts } = await request(bus, 'orchestrator.drift.list', { modelName: 'mnist' });
    expect(alerts).toEqual([
      expect.objectContaining({ eventId: 'drift-1', modelVersion: 1, reasons: drift.reasons, retrainJob: expect.objectContaining({ jobId: second?.jobId, status: 'queued', trigger: second?.trigger.reason }) }),
    ]);
  });

  it('lists sweeps with each trial\'s hyperparameters and curve (the last report of each epoch)', async () => {
    await start();
    await publishEvent(bus, 'data.batch.validated', validated(1000, 100, H('8')), { source: 'test' });
    await eventually(async () => (await request(bus, 'orchestrator.jobs.list', {})).jobs[0]);
    const sweep = await request(bus, 'orchestrator.sweeps.submit', { hyperparams: { epochs: 3 }, sweep: { strategy: 'grid', space: { learningRate: [0.01, 0.001] } } });
    const trial = sweep.trials[1]!;
    const progress = (epoch: number, valAccuracy: number) => ({
      jobId: trial.jobId, replicaId: 'r', attempt: 1, checkpointKey: 'checkpoints/x/',
      metrics: { epoch, epochs: 3, loss: 0.5, accuracy: 0.8, valAccuracy, samplesPerSec: 100, seconds: 1 },
    });
    await publishEvent(bus, 'train.job.progress', progress(1, 0.5), { source: 'test' });
    await publishEvent(bus, 'train.job.progress', progress(1, 0.6), { source: 'test' }); // a redelivered epoch: the last counts
    await publishEvent(bus, 'train.job.progress', progress(2, 0.7), { source: 'test' });
    const listed = await eventually(async () => {
      const { sweeps } = await request(bus, 'orchestrator.sweeps.list', {});
      return sweeps[0]?.trials[1]?.history?.length === 2 ? sweeps : undefined;
    });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ sweepId: sweep.sweepId, status: 'running' });
    expect(listed[0]!.trials.map((t) => t.hyperparams.learningRate)).toEqual([0.01, 0.001]);
    expect(listed[0]!.trials[1]!.history!.map((m) => [m.epoch, m.valAccuracy])).toEqual([[1, 0.6], [2, 0.7]]);
    expect(listed[0]!.trials[0]!.history).toEqual([]);
    await expect(request(bus, 'orchestrator.sweeps.list', { limit: 1000 })).rejects.toThrow(/limit/);
  });

  it('submits, lists and cancels by request, with clear errors', async () => {
    await start();
    await expect(request(bus, 'orchestrator.jobs.submit', {})).rejects.toThrow(/no validated mnist data yet/);
    await publishEvent(bus, 'data.batch.validated', validated(1000, 0, H('5')), { source: 'test' });
    await expect(eventually(async () => {
      try {
        await request(bus, 'orchestrator.jobs.submit', {});
      } catch (e) {
        return /lacks a train or test split/.test((e as Error).message) ? true : undefined;
      }
      return undefined;
    })).resolves.toBe(true);
    await publishEvent(bus, 'data.batch.validated', validated(1000, 100, H('6')), { source: 'test' });
    const job = await eventually(async () => (await request(bus, 'orchestrator.jobs.list', {})).jobs[0]);
    const manual = await request(bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 3, arch: 'cnn-deep' } });
    expect(manual.hyperparams).toMatchObject({ epochs: 3, arch: 'cnn-deep', batchSize: 64 });
    expect(manual.trigger.kind).toBe('manual');
    await expect(request(bus, 'orchestrator.jobs.submit', { hyperparams: { exchange: 'ring', compression: 'fp16' }, replicas: 2 })).rejects.toThrow(/exchange "ring" sends float32 gradients: use compression "none"/);
    expect((await request(bus, 'orchestrator.jobs.submit', { hyperparams: { exchange: 'ring' }, replicas: 2 })).hyperparams.exchange).toBe('ring');
    const cancelled = await request(bus, 'orchestrator.jobs.cancel', { jobId: job.jobId, reason: 'not needed' });
    expect(cancelled).toMatchObject({ status: 'cancelled', statusReason: 'not needed' });
    await expect(request(bus, 'orchestrator.jobs.cancel', { jobId: job.jobId })).rejects.toThrow(/already cancelled/);
    // The trainer's word that it stopped keeps who cancelled and why (a second delivery adds nothing).
    for (const eventId of ['stop-1', 'stop-1-again']) {
      await publishEvent(bus, 'train.job.cancelled', { jobId: job.jobId, replicaId: 'trainer-a', atEpoch: 2 }, { source: 'test', eventId });
    }
    await expect(eventually(async () => {
      const reason = (await request(bus, 'orchestrator.jobs.get', { jobId: job.jobId })).statusReason;
      return reason === 'not needed' ? undefined : reason;
    })).resolves.toBe('not needed; stopped at epoch 2');
    await expect(request(bus, 'orchestrator.jobs.get', { jobId: 'nope' })).rejects.toThrow(/no job nope/);
  });
});
