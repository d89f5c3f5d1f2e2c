import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeEvents, publishEvent } from '@mlpipe/bus';
import { createTestBus, writeMnistVersion } from '@mlpipe/testing';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { CheckpointPointerSchema, HyperparamsSchema, storeKeys, type Envelope, type EventType, type TrainJobRequested } from '@mlpipe/contracts';
import { createObjectStore, getJson, type ObjectStore } from '@mlpipe/storage';
import { createModel, evaluateModel, initBackend, loadModelFromBytes, trainModel } from '@mlpipe/ml';
import { planData } from '../src/core/dataPlan';
import { loadDatasetVersion } from '@mlpipe/dataset';
import { startTrainer, type RunningTrainer } from '../src/service';

const logger = createLogger('trainer-test', 'silent');
const root = resolve(import.meta.dirname, '../../..');


describe('trainer on real NATS and a folder store', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let dir: string;
  let store: ObjectStore;
  let trainer: RunningTrainer | undefined;
  const events: Envelope[] = [];
  let stopWatch: () => Promise<void>;
  const of = <T extends EventType>(type: T) => events.filter((e) => e.type === type) as Envelope<T>[];

  const job = (datasetVersion: string, jobId: string, hp: object): TrainJobRequested => ({
    jobId,
    modelName: 'mnist',
    dataset: 'mnist',
    datasetVersion,
    hyperparams: HyperparamsSchema.parse({ arch: 'cnn-small', batchSize: 32, validationShare: 0.1, ...hp }),
    replicas: 1,
    rank: 0,
    trigger: { kind: 'manual', reason: 'test' },
  });

  beforeEach(async () => {
    events.length = 0;
    bus = await createTestBus();
    dir = await mkdtemp(join(tmpdir(), 'mlpipe-tr-'));
    store = createObjectStore({ kind: 'fs', root: dir });
    const watch = await consumeEvents(bus, {
      durable: 'test-train-events',
      logger,
      handlers: Object.fromEntries(
        (['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled', 'train.group.changed'] as const).map((t) => [
          t,
          async (e: Envelope) => void events.push(e),
        ]),
      ),
    });
    stopWatch = watch.stop;
  });
  afterEach(async () => {
    await trainer?.stop();
    trainer = undefined;
    await stopWatch();
    await bus.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const startInProcess = async () => {
    const backend = await initBackend('wasm');
    trainer = await startTrainer({ bus, store, logger, metrics: createMetricsRegistry('t'), replicaId: 'in-process', backend: backend.name, codeVersion: 'test', ackWaitMs: 3000 });
  };

  it('trains a job: progress every epoch, checkpoints, evaluation and loadable artefacts', async () => {
    const version = await writeMnistVersion(store, 2000, 500);
    await startInProcess();
    await publishEvent(bus, 'train.job.requested', job(version.id, 'job-ok', { epochs: 2 }), { source: 't' });
    const done = await eventually(() => of('train.job.completed')[0], 60_000);
    expect(of('train.job.started')[0]?.data).toMatchObject({ attempt: 1, resumedFromEpoch: 0, backend: 'wasm' });
    expect(of('train.job.progress').map((e) => e.data.metrics.epoch)).toEqual([1, 2]);
    expect(done.data.evaluation.testSamples).toBe(500);
    expect(done.data.evaluation.testAccuracy).toBeGreaterThan(0.85);
    expect(done.data.trainSamples).toBe(1800);
    expect(done.data.history).toHaveLength(2);
    expect(await store.head('checkpoints/job-ok/latest.json')).toBeDefined();
    const model = await loadModelFromBytes({ modelJson: await store.get(done.data.artefacts.modelJsonKey), weights: await store.get(done.data.artefacts.weightsKey) });
    const data = await loadDatasetVersion(store, 'mnist', version.id);
    expect(evaluateModel(model, data.test).accuracy).toBeCloseTo(done.data.evaluation.testAccuracy, 6);
    expect(new TextDecoder().decode(await store.get(`${done.data.artefacts.prefix}model-card.md`))).toMatch(/test accuracy: \d+\.\d+%/);
    // The ONNX export, verified against the wasm backend's outputs, lies beside model.json.
    expect(done.data.onnx).toMatchObject({ status: 'verified', samples: 32 });
    expect(done.data.artefacts.onnxKey).toBe(`${done.data.artefacts.prefix}model.onnx`);
    expect((await store.head(done.data.artefacts.onnxKey!))?.size).toBeGreaterThan(1000);
  });

  it('fails a job whose dataset version does not exist, without retrying', async () => {
    await startInProcess();
    await publishEvent(bus, 'train.job.requested', job('e'.repeat(64), 'job-nodata', { epochs: 1 }), { source: 't' });
    const failed = await eventually(() => of('train.job.failed')[0], 60_000);
    expect(failed.data).toMatchObject({ retryable: false, error: expect.stringMatching(/dataset version eeeeeeeeeeee cannot be loaded/) });
  });

  it('stops a running job when cancelled', async () => {
    const version = await writeMnistVersion(store, 3000, 100);
    await startInProcess();
    await publishEvent(bus, 'train.job.requested', job(version.id, 'job-cancel', { epochs: 50 }), { source: 't' });
    await eventually(() => of('train.job.progress')[0], 60_000);
    await publishEvent(bus, 'train.job.cancel-requested', { jobId: 'job-cancel', reason: 'changed my mind' }, { source: 't' });
    const cancelled = await eventually(() => of('train.job.cancelled')[0], 60_000);
    expect(cancelled.data.atEpoch).toBeGreaterThanOrEqual(1);
    expect(of('train.job.completed')).toHaveLength(0);
  });

  it('hands a running job back when the replica stops, and the next attempt resumes from its checkpoint', async () => {
    const version = await writeMnistVersion(store, 3000, 300);
    await startInProcess();
    await publishEvent(bus, 'train.job.requested', job(version.id, 'job-stop', { epochs: 4 }), { source: 't' });
    await eventually(() => of('train.job.progress')[0], 60_000);
    const started = Date.now();
    await trainer!.stop();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(of('train.job.failed')).toEqual([]);
    expect(of('train.job.cancelled')).toEqual([]);
    await startInProcess();
    const done = await eventually(() => of('train.job.completed')[0], 120_000, 'the handed-back job to complete');
    const second = of('train.job.started')[1];
    expect(second?.data.attempt).toBe(2);
    expect(second?.data.resumedFromEpoch).toBeGreaterThanOrEqual(1);
    expect(done.data.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
  });

  it('resumes at the exact step of its last checkpoint by time after its trainer process is killed mid-epoch', async () => {
    const version = await writeMnistVersion(store, 3000, 300);
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/trainer/src/main.ts')], {
      cwd: root,
      env: { ...process.env, BUS_NAMESPACE: bus.namespace, STORE_KIND: 'fs', STORE_ROOT: dir, TRAINER_BACKEND: 'wasm', TRAINER_REPLICA_ID: 'doomed', TRAINER_ACK_WAIT_MS: '3000', TRAINER_CHECKPOINT_EVERY_MS: '300', HTTP_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    let midEpoch: { epoch: number; steps: number } | undefined;
    try {
      await publishEvent(bus, 'train.job.requested', job(version.id, 'job-kill', { epochs: 4 }), { source: 't' });
      await eventually(() => of('train.job.progress').find((e) => e.data.replicaId === 'doomed' && e.data.metrics.epoch >= 1), 60_000);
      // Kill it right after a checkpoint by time (mid-epoch: the pointer carries the epoch's partial sums).
      midEpoch = await eventually(async () => {
        const pointer = await getJson(store, storeKeys.checkpointPointer('job-kill'), CheckpointPointerSchema).catch(() => undefined);
        return pointer?.partialEpoch && pointer.steps ? { epoch: pointer.epoch, steps: pointer.steps } : undefined;
      }, 60_000, 'a mid-epoch checkpoint');
    } finally {
      child.kill('SIGKILL');
    }
    const doneBeforeKill = Math.max(...of('train.job.progress').map((e) => e.data.metrics.epoch));
    await startInProcess(); // JetStream hands the unacknowledged job over once its ack wait passes
    const done = await eventually(() => of('train.job.completed')[0], 120_000, 'the resumed job to complete');
    const resumed = of('train.job.started').find((e) => e.data.replicaId === 'in-process');
    expect(resumed?.data.attempt).toBe(2);
    expect(resumed?.data.resumedFromEpoch).toBeGreaterThanOrEqual(midEpoch!.epoch);
    expect(resumed?.data.resumedFromEpoch).toBeLessThanOrEqual(doneBeforeKill);
    // Epoch checkpoints alone would have sent it back to the start of the epoch in progress.
    expect(resumed?.data.resumedFromStep).toBeGreaterThanOrEqual(midEpoch!.steps);
    expect(done.data.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(done.data.evaluation.testAccuracy).toBeGreaterThan(0.85);
  });
  it('finishes a data-parallel job when a worker replica is SIGKILLed mid-epoch: dropped, re-sharded, recorded', async () => {
    // Enough samples that epoch 1 outlasts forming the group by seconds even with fast kernels.
    const version = await writeMnistVersion(store, 8000, 1000);
    const replica = (id: string) =>
      spawn(process.execPath, ['--import', 'tsx', join(root, 'services/trainer/src/main.ts')], {
        cwd: root,
        env: {
          ...process.env,
          BUS_NAMESPACE: bus.namespace,
          STORE_KIND: 'fs',
          STORE_ROOT: dir,
          TRAINER_BACKEND: 'wasm',
          TRAINER_REPLICA_ID: id,
          TRAINER_HEARTBEAT_MS: '200',
          TRAINER_HEARTBEAT_TIMEOUT_MS: '2000',
          TRAINER_JOIN_TIMEOUT_MS: '5000',
          HTTP_PORT: '0',
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      });
    const replicas = { a: replica('replica-a'), b: replica('replica-b') };
    const hp = { epochs: 3, batchSize: 64 };
    try {
      for (const rank of [0, 1]) {
        await publishEvent(bus, 'train.job.requested', { ...job(version.id, 'job-dp', hp), replicas: 2, rank }, { source: 't', eventId: `dp-${rank}` });
      }
      await eventually(() => of('train.group.changed').filter((e) => e.data.change === 'formed').length === 2 || undefined, 60_000, 'both replicas in the group');
      const coordinator = of('train.job.started')[0]!.data.replicaId;
      const worker = coordinator === 'replica-a' ? 'replica-b' : 'replica-a';
      await new Promise((r) => setTimeout(r, 200)); // a few steps into epoch 1, which takes seconds
      expect(of('train.job.progress')).toHaveLength(0);
      replicas[worker === 'replica-a' ? 'a' : 'b'].kill('SIGKILL');

      const done = await eventually(() => of('train.job.completed')[0], 120_000, 'the job to complete');
      const dropped = of('train.group.changed').find((e) => e.data.change === 'dropped');
      expect(dropped?.data).toMatchObject({ replica: worker, epoch: 1, members: [coordinator] });
      expect(dropped?.data.reason).toMatch(/no heartbeat/);
      expect(done.data.distributed).toMatchObject({ replicasRequested: 2, finalMembers: [coordinator] });
      expect(done.data.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
      expect(of('train.job.progress').map((e) => e.data.members)).toEqual([[coordinator], [coordinator], [coordinator]]);

      // The undisturbed reference: the same job trained in one process.
      await initBackend('wasm');
      const data = await loadDatasetVersion(store, 'mnist', version.id);
      const plan = planData(data.train, data.test, done.data.hyperparams);
      const reference = createModel('cnn-small', { seed: done.data.hyperparams.seed, learningRate: done.data.hyperparams.learningRate });
      await trainModel(reference, { train: plan.train }, { epochs: 3, batchSize: 64, seed: done.data.hyperparams.seed });
      const referenceAccuracy = evaluateModel(reference, plan.test).accuracy;
      reference.dispose();
      expect(Math.abs(done.data.evaluation.testAccuracy - referenceAccuracy)).toBeLessThan(0.02);
    } finally {
      replicas.a.kill('SIGKILL');
      replicas.b.kill('SIGKILL');
    }
  });
});
