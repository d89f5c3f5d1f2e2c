import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, consumeEvents, ensureStreams, publishEvent, serveRequests, type Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { startNatsServer, writeMnistVersion, type OwnNatsServer } from '@mlpipe/testing';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { HyperparamsSchema, type Envelope, type Job, type TrainJobRequested } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { initBackend } from '@mlpipe/ml';
import { startTrainer, type RunningTrainer } from '../src/service';

/**
 * A cancel published while the trainer was cut off from NATS never reaches it live: after the
 * reconnect it asks the orchestrator for the state of what it runs and stops a cancelled job.
 */
const logger = createLogger('resync-test', (process.env.TEST_LOG as 'silent') ?? 'silent');

describe('trainer state after a reconnect (its own nats-server)', () => {
  let server: OwnNatsServer;
  let bus: Bus;
  let probe: Bus;
  let dir: string;
  let store: ObjectStore;
  let trainer: RunningTrainer;
  const events: Envelope[] = [];
  let status: Job['status'] = 'running';

  beforeAll(async () => {
    await initBackend('wasm');
    server = await startNatsServer();
    bus = await connectBus({ url: server.url, name: 'trainer', namespace: 'resync' });
    probe = await connectBus({ url: server.url, name: 'probe', namespace: 'resync' });
    await ensureStreams(probe);
    dir = await mkdtemp(join(tmpdir(), 'mlpipe-resync-'));
    store = createObjectStore({ kind: 'fs', root: dir });
    await consumeEvents(probe, { durable: 'probe', logger, handlers: { 'train.job.cancelled': async (e) => void events.push(e), 'train.job.progress': async (e) => void events.push(e) } });
  });
  afterAll(async () => {
    await trainer?.stop();
    await bus.close();
    await probe.close();
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops a job cancelled while the replica was disconnected, once it is back', async () => {
    const version = await writeMnistVersion(store, 3000, 300);
    const job: TrainJobRequested = {
      jobId: 'job-resync',
      modelName: 'mnist',
      dataset: 'mnist',
      datasetVersion: version.id,
      hyperparams: HyperparamsSchema.parse({ arch: 'cnn-small', epochs: 30, batchSize: 32, validationShare: 0 }),
      replicas: 1,
      rank: 0,
      trigger: { kind: 'manual', reason: 'test' },
    };
    const now = new Date().toISOString();
    serveRequests(probe, 'orchestrator.jobs.get', async () => ({ jobId: job.jobId, modelName: job.modelName, dataset: job.dataset, datasetVersion: job.datasetVersion, hyperparams: job.hyperparams, replicas: 1, trigger: job.trigger, status, statusReason: null, attempts: 0, lastProgress: null, modelVersion: null, sweep: null, createdAt: now, updatedAt: now }), logger);
    trainer = await startTrainer({ bus, store, logger, metrics: createMetricsRegistry('t'), replicaId: 'r1', backend: 'wasm', codeVersion: 't' });
    await publishEvent(probe, 'train.job.requested', job, { source: 't' });
    await eventually(() => events.some((e) => e.type === 'train.job.progress') || undefined, 60_000, 'training under way');
    expect(trainer.busy()).toBe(true);

    await server.stop();
    status = 'cancelled'; // the cancel-requested event of this moment reaches no one
    await new Promise((r) => setTimeout(r, 2000));
    await server.start();

    const cancelled = await eventually(() => events.find((e) => e.type === 'train.job.cancelled'), 30_000, 'the job to stop after the reconnect');
    expect(cancelled.data).toMatchObject({ jobId: 'job-resync', replicaId: 'r1' });
    await eventually(() => !trainer.busy() || undefined, 10_000, 'the replica to be free');
  }, 120_000);
});
