import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ValidationError, eventually, mulberry32 } from '@mlpipe/common';
import {
  connectBus,
  consumeEvents,
  deleteStreams,
  ensureStreams,
  listDeadLetters,
  publishEvent,
  streamNameOf,
  useStreamLimits,
  type Bus,
  type RunningConsumer,
  type StreamLimits,
} from '@mlpipe/bus';
import { DatasetWatcherConfigSchema, GatewayConfigSchema, OrchestratorConfigSchema, loadConfig, streamLimits } from '@mlpipe/config';
import { DEFAULT_STREAM_LIMITS, HyperparamsSchema, storeKeys, type Envelope, type PredictionRecord, type TrainJobRequested } from '@mlpipe/contracts';
import { createPool, type Pool } from '@mlpipe/db';
import { computeDatasetManifest, loadDatasetVersion, parseIdx, readDatasetManifest, readSeedFile, writeDatasetManifest, writeIncomingBatch, PIXELS } from '@mlpipe/dataset';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createTestBus, createTestDatabase, startS3Server, validatedBatch, writeMnistVersion, type TestBus } from '@mlpipe/testing';
import { initBackend } from '@mlpipe/ml';
import { startWatcher } from '../../services/dataset-watcher/src/service';
import { startOrchestrator } from '../../services/orchestrator/src/service';
import { startTrainer } from '../../services/trainer/src/service';
import { CheckpointStore } from '../../services/trainer/src/adapters/checkpoints';
import { checkpointKeysToPrune } from '../../services/trainer/src/core/checkpointPruning';
import { PredictionLog } from '../../services/gateway/src/adapters/predictionLog';
import { PredictionRetention } from '../../services/gateway/src/adapters/predictionRetention';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const KIB = 1024;
const silent = pino({ level: 'silent' });
const limits = (over: Partial<StreamLimits>): StreamLimits => ({ ...TINY, ...over });
const TINY: StreamLimits = {
  DATA: { maxAgeMs: 3_600_000, maxBytes: 256 * KIB },
  TRAIN: { maxAgeMs: 3_600_000, maxBytes: 256 * KIB },
  MODEL: { maxAgeMs: 3_600_000, maxBytes: 256 * KIB },
  DLQ: { maxAgeMs: 3_600_000, maxBytes: 256 * KIB },
};

/** A rejected batch of about `size` bytes on the wire (its reason carries the padding). */
const rejected = (bus: Bus, i: number, size = 1024) =>
  publishEvent(bus, 'data.batch.rejected', { batchId: `b${i}`, sourcePrefix: `incoming/b${i}/`, reasons: [`r${i} ${'x'.repeat(size)}`] }, { source: 'retention-test', eventId: `rejected:${i}` });

describe('streams at their limits (real NATS, own namespace, small limits)', () => {
  const buses: Bus[] = [];
  const consumers: RunningConsumer[] = [];
  const newBus = async () => {
    const bus = await connectBus({ url: NATS_URL, name: 'retention-test', namespace: `ret${randomBytes(4).toString('hex')}` });
    buses.push(bus);
    return bus;
  };
  afterEach(async () => {
    for (const c of consumers.splice(0)) await c.stop();
    for (const bus of buses.splice(0)) {
      await deleteStreams(bus).catch(() => undefined);
      await bus.close();
    }
  });

  it('a stream at max_bytes drops its oldest messages, publishing goes on, and a durable consumer keeps consuming', async () => {
    const bus = await newBus();
    await ensureStreams(bus, limits({ DATA: { maxAgeMs: 3_600_000, maxBytes: 32 * KIB } }));
    const seen: string[] = [];
    consumers.push(await consumeEvents(bus, { durable: 'retention-reader', logger: silent, pullExpiresMs: 2000, handlers: { 'data.batch.rejected': async (e) => void seen.push(e.data.batchId) } }));

    // 200 messages of ~1.3 KiB: about 8 times what the stream may hold. Every publish is accepted.
    for (let i = 0; i < 200; i++) await rejected(bus, i);

    const info = await bus.jsm.streams.info(streamNameOf(bus.namespace, 'DATA'));
    expect(info.config.discard).toBe('old');
    expect(info.config.max_bytes).toBe(32 * KIB);
    expect(info.state.bytes).toBeLessThanOrEqual(32 * KIB);
    expect(info.state.first_seq).toBeGreaterThan(100); // the oldest went
    expect(info.state.last_seq).toBe(200); // the newest is there
    const last = await bus.jsm.streams.getMessage(streamNameOf(bus.namespace, 'DATA'), { last_by_subj: `${bus.namespace}.data.batch.rejected` });
    expect(last?.json<{ data: { batchId: string } }>().data.batchId).toBe('b199');

    // The consumer lost what expired before it got there, never the messages after.
    await eventually(() => seen.includes('b199'), 30_000, 'the newest message consumed');
    await rejected(bus, 200);
    await eventually(() => seen.includes('b200'), 30_000, 'a message published after the limit was reached consumed');
  });

  it('the dead-letter stream at its limit drops its oldest dead letters and dead-lettering goes on', async () => {
    const bus = await newBus();
    await ensureStreams(bus, limits({ DLQ: { maxAgeMs: 3_600_000, maxBytes: 24 * KIB } }));
    consumers.push(
      await consumeEvents(bus, {
        durable: 'retention-refuser',
        logger: silent,
        pullExpiresMs: 2000,
        handlers: { 'data.batch.rejected': async (e) => Promise.reject(new ValidationError(`refused ${e.data.batchId}`)) },
      }),
    );
    for (let i = 0; i < 60; i++) await rejected(bus, i);
    const dlq = streamNameOf(bus.namespace, 'DLQ');
    await eventually(async () => (await bus.jsm.streams.info(dlq)).state.last_seq >= 60, 60_000, 'every message dead-lettered');
    const info = await bus.jsm.streams.info(dlq);
    expect(info.state.bytes).toBeLessThanOrEqual(24 * KIB);
    expect(info.state.first_seq).toBeGreaterThan(1);
    const kept = await listDeadLetters(bus, { limit: 100 });
    expect(kept.length).toBe(info.state.messages);
    const batches = kept.map((d) => (JSON.parse(d.record?.payload ?? '{}') as { data?: { batchId?: string } }).data?.batchId);
    expect(batches).toContain('b59'); // the newest dead letter is kept
    expect(batches).not.toContain('b0'); // the oldest went
  });

  it('messages older than max_age expire and publishing goes on', async () => {
    const bus = await newBus();
    await ensureStreams(bus, limits({ DATA: { maxAgeMs: 1500, maxBytes: 256 * KIB } }));
    const stream = streamNameOf(bus.namespace, 'DATA');
    for (let i = 0; i < 5; i++) await rejected(bus, i, 10);
    expect((await bus.jsm.streams.info(stream)).state.messages).toBe(5);
    await eventually(async () => (await bus.jsm.streams.info(stream)).state.messages === 0, 15_000, 'the messages expired');
    await rejected(bus, 5, 10);
    const info = await bus.jsm.streams.info(stream);
    expect(info.state.messages).toBe(1);
    expect(info.state.last_seq).toBe(6);
  });

  it('existing streams are brought to changed limits in place at start-up, keeping their messages', async () => {
    const bus = await newBus();
    const stream = streamNameOf(bus.namespace, 'TRAIN');
    // As before this change: no limits at all, and a message in the stream.
    await bus.jsm.streams.add({ name: stream, subjects: [`${bus.namespace}.train.>`], duplicate_window: 600_000_000_000 });
    await publishEvent(bus, 'train.job.cancel-requested', { jobId: 'job-1', reason: 'kept' }, { source: 'retention-test', eventId: 'c1' });

    // A service starts with configured limits (what the runtime does from the STREAM_* settings).
    useStreamLimits(bus, limits({ TRAIN: { maxAgeMs: 7_200_000, maxBytes: 128 * KIB } }));
    await ensureStreams(bus);
    let info = await bus.jsm.streams.info(stream);
    expect(info.config.max_bytes).toBe(128 * KIB);
    expect(info.config.max_age).toBe(7_200_000 * 1_000_000);
    expect(info.config.discard).toBe('old');
    expect(info.state.messages).toBe(1);

    // Changed limits at the next start-up are applied again.
    useStreamLimits(bus, limits({ TRAIN: { maxAgeMs: 3_600_000, maxBytes: 64 * KIB } }));
    await ensureStreams(bus);
    info = await bus.jsm.streams.info(stream);
    expect(info.config.max_bytes).toBe(64 * KIB);
    expect(info.config.max_age).toBe(3_600_000 * 1_000_000);

    // A tool that knows no settings (another bus, nothing configured) leaves them as they are.
    const tool = await connectBus({ url: NATS_URL, name: 'retention-tool', namespace: bus.namespace });
    try {
      await ensureStreams(tool);
      expect((await tool.jsm.streams.info(stream)).config.max_bytes).toBe(64 * KIB);
    } finally {
      await tool.close();
    }
    expect(info.state.messages).toBe(1);
  });

  it('the STREAM_* settings configure each stream, with the catalogue defaults', () => {
    const defaults = loadConfig(GatewayConfigSchema, {});
    expect(streamLimits(defaults)).toEqual(DEFAULT_STREAM_LIMITS);
    const set = loadConfig(GatewayConfigSchema, { STREAM_DLQ_MAX_BYTES: '1048576', STREAM_TRAIN_MAX_AGE_MS: '0' });
    expect(streamLimits(set).DLQ).toEqual({ maxAgeMs: DEFAULT_STREAM_LIMITS.DLQ.maxAgeMs, maxBytes: 1048576 });
    expect(streamLimits(set).TRAIN.maxAgeMs).toBe(0);
    expect(() => loadConfig(GatewayConfigSchema, { STREAM_DATA_MAX_BYTES: '-1' })).toThrow(/STREAM_DATA_MAX_BYTES/);
  });
});

describe('dataset versions name their manifest instead of carrying every batch (real NATS, PostgreSQL, folder store)', () => {
  const hash = (i: number) => i.toString(16).padStart(64, '0');
  const cleanup: (() => Promise<unknown>)[] = [];
  let bus: TestBus;
  let store: ObjectStore;
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const setUp = async () => {
    bus = await createTestBus(NATS_URL);
    cleanup.push(() => bus.dispose());
    const root = await mkdtemp(join(tmpdir(), 'mlpipe-retention-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    store = createObjectStore({ kind: 'fs', root });
    await store.ensureReady();
  };
  /** setUp, and a database of the test's own for an orchestrator. */
  const setUpWithDatabase = async (): Promise<{ db: { url: string }; pool: Pool }> => {
    await setUp();
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const pool = await createPool(db.url);
    cleanup.push(() => pool.end());
    return { db, pool };
  };
  const storedSize = async (subjectTail: string) => {
    const m = await bus.jsm.streams.getMessage(streamNameOf(bus.namespace, 'DATA'), { last_by_subj: `${bus.namespace}.${subjectTail}` });
    return m?.data.length ?? 0;
  };

  it('a version of 20 000 batches makes an event of a few hundred bytes; its manifest is read back whole and checked', async () => {
    await setUp();
    const train = Array.from({ length: 20_000 }, (_, i) => ({ hash: hash(i), samples: 50 }));
    const manifest = computeDatasetManifest('mnist', train, [{ hash: hash(99_999), samples: 500 }]);
    const version = await writeDatasetManifest(store, manifest);
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, datasetVersion: version }, { source: 'retention-test', eventId: 'big' });

    const size = await storedSize('data.batch.validated');
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(2048);
    // Inline, the same version would not fit in one NATS message (1 MB by default).
    expect(JSON.stringify(manifest).length).toBeGreaterThan(1_000_000);
    expect(version).toMatchObject({ trainBatchCount: 20_000, testBatchCount: 1, trainSamples: 1_000_000, testSamples: 500 });
    const read = await readDatasetManifest(store, 'mnist', version.id, version.manifestSha256);
    expect(read.trainBatches).toHaveLength(20_000);
    expect(read.trainBatches[19_999]).toBe(hash(19_999));
  });

  it('the watcher\'s events stay the same size as batches pile up; the orchestrator starts the job on them and the trainer\'s loader reads every batch', async () => {
    const { db, pool } = await setUpWithDatabase();
    const logger = createLogger('retention-test', 'silent');
    const validated: Envelope<'data.batch.validated'>[] = [];
    const requested: Envelope<'train.job.requested'>[] = [];
    for (const reader of [
      await consumeEvents(bus, { durable: 'retention-data', logger, pullExpiresMs: 2000, handlers: { 'data.batch.validated': async (e) => void validated.push(e) } }),
      await consumeEvents(bus, { durable: 'retention-jobs', logger, pullExpiresMs: 2000, handlers: { 'train.job.requested': async (e) => void requested.push(e) } }),
    ]) {
      cleanup.push(() => reader.stop());
    }

    // 12 small train batches and one test batch, each made a new version as it arrives.
    const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
    const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
    const slice = (split: 'train' | 'test', from: number, n: number) => ({
      dataset: 'mnist' as const,
      split,
      format: 'idx' as const,
      set: { images: images.slice(from * PIXELS, (from + n) * PIXELS), labels: labels.slice(from, from + n), count: n },
    });
    const batches = 12;
    await writeIncomingBatch(store, 'incoming/t-000/', slice('test', 9000, 60));
    for (let i = 0; i < batches; i++) await writeIncomingBatch(store, `incoming/b-${String(i + 1).padStart(3, '0')}/`, slice('train', i * 60, 60));
    const watcherConfig = loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '3600000', DRIFT_ENABLED: 'false' });
    const watcher = await startWatcher({ config: watcherConfig, bus, pool, store, logger, metrics: createMetricsRegistry('w') });
    cleanup.push(() => watcher.stop());
    await watcher.scan();
    await eventually(() => validated.length === batches + 1, 60_000, 'every batch validated');

    // Every event's dataset version is the same size, whatever the number of batches before it.
    const sizes = validated.map((e) => JSON.stringify(e.data.datasetVersion).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(4);
    const last = validated.at(-1)!.data.datasetVersion;
    expect(last).toMatchObject({ trainBatchCount: batches, testBatchCount: 1, trainSamples: batches * 60, testSamples: 60 });

    // The orchestrator records the newest version from the event and queues a job on it.
    const orchConfig = loadConfig(OrchestratorConfigSchema, { DATABASE_URL: db.url, RETRAIN_MIN_NEW_SAMPLES: '1' });
    const orchestrator = await startOrchestrator({ config: orchConfig, bus, pool, logger, metrics: createMetricsRegistry('o') });
    cleanup.push(() => orchestrator.stop());
    await eventually(() => requested.find((e) => e.data.datasetVersion === last.id), 60_000, 'a job on the newest version');

    // What the trainer does with the job: read the manifest it names, then every batch in order.
    const data = await loadDatasetVersion(store, 'mnist', last.id);
    expect(data.version.trainBatches).toHaveLength(batches);
    expect(data.train.count).toBe(batches * 60);
    expect(data.test.count).toBe(60);
    expect(Buffer.from(data.train.images.subarray(0, PIXELS)).equals(Buffer.from(images.subarray(0, PIXELS)))).toBe(true);
  });

  it('a v1 event (every batch inline) is dead-lettered by the orchestrator with the reason', async () => {
    const { db, pool } = await setUpWithDatabase();
    const logger = createLogger('retention-test', 'silent');
    const orchestrator = await startOrchestrator({ config: loadConfig(OrchestratorConfigSchema, { DATABASE_URL: db.url }), bus, pool, logger, metrics: createMetricsRegistry('o') });
    cleanup.push(() => orchestrator.stop());
    const { datasetVersion, ...rest } = validatedBatch;
    const v1 = {
      type: 'data.batch.validated',
      schemaVersion: 1,
      eventId: 'old-release',
      occurredAt: new Date().toISOString(),
      source: 'dataset-watcher',
      data: { ...rest, datasetVersion: { id: datasetVersion.id, dataset: 'mnist', trainBatches: [hash(1)], testBatches: [], trainSamples: 100, testSamples: 0 } },
    };
    await bus.js.publish(`${bus.namespace}.data.batch.validated`, JSON.stringify(v1));
    const dead = await eventually(async () => (await listDeadLetters(bus)).find((d) => d.record?.consumer === 'orchestrator-data-events'), 30_000, 'the v1 event dead-lettered');
    expect(dead.record?.reason).toMatch(/unsupported schemaVersion 1 for data.batch.validated \(expected 2\)/);
  });
});

describe('checkpoints are pruned once a job ends, keeping the last', () => {
  const dir = (attempt: number, step: number) => storeKeys.checkpointDir('job-p', attempt, step);
  const files = (prefix: string) => [`${prefix}model.json`, `${prefix}weights.bin`];
  const root = storeKeys.checkpoints('job-p');

  it('chooses only whole folders older than the pointed one (pure)', () => {
    const keys = [...files(dir(1, 10)), ...files(dir(1, 20)), ...files(dir(2, 5)), ...files(dir(2, 30)), ...files(dir(3, 31)), storeKeys.checkpointPointer('job-p'), `${root}epoch-0001/model.json`];
    // Attempt 2 wrote step 30 and points at it; attempt 3 is writing step 31 (not pointed at yet).
    expect(checkpointKeysToPrune(keys, root, dir(2, 30))).toEqual([...files(dir(1, 10)), ...files(dir(1, 20)), ...files(dir(2, 5))]);
    // Zero-padding: step 100 sorts after step 99, attempt 10 after attempt 9.
    expect(checkpointKeysToPrune([...files(dir(1, 99)), ...files(dir(1, 100))], root, dir(1, 100))).toEqual(files(dir(1, 99)));
    expect(checkpointKeysToPrune([...files(dir(9, 500)), ...files(dir(10, 1))], root, dir(10, 1))).toEqual(files(dir(9, 500)));
    // Without a pointer of this layout nothing goes; nor does another job's folder.
    expect(checkpointKeysToPrune(keys, root, undefined)).toEqual([]);
    expect(checkpointKeysToPrune(files(storeKeys.checkpointDir('job-other', 1, 1)), root, dir(2, 30))).toEqual([]);
  });

  describe('against a real S3 API (s3rver)', () => {
    let s3: Awaited<ReturnType<typeof startS3Server>>;
    let store: ObjectStore;
    afterEach(async () => {
      await s3?.close();
    });
    const model = (n: number) => ({ modelJson: new TextEncoder().encode(`{"n":${n}}`), weights: new Uint8Array([n, n, n]) });
    const checkpoint = (steps: number) => ({ epoch: Math.floor(steps / 10), steps, history: [], model: model(steps) });
    const setUp = async () => {
      s3 = await startS3Server();
      store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'retention-test', accessKey: s3.accessKey, secretKey: s3.secretKey });
      await store.ensureReady();
      const checkpoints = new CheckpointStore(store);
      for (const [attempt, steps] of [[1, 10], [1, 20], [2, 30], [2, 40]] as const) await checkpoints.save('job-p', attempt, checkpoint(steps));
      return checkpoints;
    };
    const keys = async () => (await store.list(root)).map((o) => o.key);

    it('deletes the older checkpoints; the pointer and the checkpoint it names stay, and it resumes', async () => {
      const checkpoints = await setUp();
      // A later attempt's folder, written but not yet pointed at, stays too.
      await store.put(`${dir(3, 41)}weights.bin`, new Uint8Array([1]));
      const result = await checkpoints.pruneEnded('job-p');
      expect(result).toEqual({ deleted: 6, kept: dir(2, 40) });
      expect(await keys()).toEqual([...files(dir(2, 40)), `${dir(3, 41)}weights.bin`, storeKeys.checkpointPointer('job-p')].sort());
      const resumed = await checkpoints.latest('job-p', 10);
      expect(resumed).toMatchObject({ steps: 40, epoch: 4 });
      expect([...resumed!.model.weights]).toEqual([40, 40, 40]);
      // Again: nothing more to do.
      expect(await checkpoints.pruneEnded('job-p')).toEqual({ deleted: 0, kept: dir(2, 40) });
    });

    it('a prune cut short leaves a checkpoint to resume from, and the next prune finishes it', async () => {
      await setUp();
      let deletes = 0;
      const failing = { ...store, description: store.description, ensureReady: () => store.ensureReady(), put: store.put.bind(store), get: store.get.bind(store), head: store.head.bind(store), list: store.list.bind(store),
        delete: async (key: string) => {
          if (++deletes > 3) throw new Error('the store went away');
          await store.delete(key);
        },
      };
      await expect(new CheckpointStore(failing).pruneEnded('job-p')).rejects.toThrow(/went away/);
      expect(await keys()).toHaveLength(8 - 3 + 1);
      expect((await new CheckpointStore(store).latest('job-p', 10))?.steps).toBe(40);
      expect((await new CheckpointStore(store).pruneEnded('job-p')).deleted).toBe(3);
      expect(await keys()).toEqual([...files(dir(2, 40)), storeKeys.checkpointPointer('job-p')].sort());
    });

    it('a job without a checkpoint has nothing to prune', async () => {
      s3 = await startS3Server();
      store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'retention-test', accessKey: s3.accessKey, secretKey: s3.secretKey });
      await store.ensureReady();
      expect(await new CheckpointStore(store).pruneEnded('job-none')).toEqual({ deleted: 0, kept: undefined });
    });
  });

  it('a trained job keeps only its last checkpoint, and the job resumes from it (real trainer, NATS, folder store)', async () => {
    const bus = await createTestBus(NATS_URL);
    const root = await mkdtemp(join(tmpdir(), 'mlpipe-retention-cp-'));
    const store = createObjectStore({ kind: 'fs', root });
    const backend = await initBackend('wasm');
    const trainer = await startTrainer({
      bus, store, logger: createLogger('retention-test', 'silent'), metrics: createMetricsRegistry('t'), replicaId: 'retention', backend: backend.name, codeVersion: 'test', consume: false,
      // A checkpoint after every step: many folders to prune.
      checkpointEveryMs: 1,
    });
    const started: Envelope<'train.job.started'>[] = [];
    const watch = await consumeEvents(bus, { durable: 'retention-started', logger: silent, pullExpiresMs: 2000, handlers: { 'train.job.started': async (e) => void started.push(e) } });
    try {
      const version = await writeMnistVersion(store, 600, 200);
      const job: TrainJobRequested = {
        jobId: 'job-pruned', modelName: 'mnist', dataset: 'mnist', datasetVersion: version.id,
        hyperparams: HyperparamsSchema.parse({ arch: 'cnn-small', batchSize: 64, epochs: 2, validationShare: 0.1 }),
        replicas: 1, rank: 0, trigger: { kind: 'manual', reason: 'retention test' },
      };
      expect(await trainer.runOne(job, 1)).toBe('completed');
      const left = (await store.list(storeKeys.checkpoints('job-pruned'))).map((o) => o.key);
      const pointer = JSON.parse(new TextDecoder().decode(await store.get(storeKeys.checkpointPointer('job-pruned')))) as { prefix: string; epoch: number };
      expect(pointer.epoch).toBe(2);
      expect(left).toEqual([...files(pointer.prefix), storeKeys.checkpointPointer('job-pruned')].sort());

      // The message delivered again (say its ack was lost): the job resumes from the kept checkpoint.
      expect(await trainer.runOne(job, 2)).toBe('completed');
      await eventually(() => started.find((e) => e.data.attempt === 2), 30_000, 'the second attempt started');
      expect(started.find((e) => e.data.attempt === 2)?.data.resumedFromEpoch).toBe(2);
    } finally {
      await watch.stop();
      await trainer.stop();
      await bus.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('prediction samples: a share below 1 by default, and retention (s3rver)', () => {
  let s3: Awaited<ReturnType<typeof startS3Server>> | undefined;
  let store: ObjectStore;
  afterEach(async () => {
    await s3?.close();
    s3 = undefined;
  });
  const setUp = async () => {
    s3 = await startS3Server();
    store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'predictions-test', accessKey: s3.accessKey, secretKey: s3.secretKey });
    await store.ensureReady();
  };
  const record = (i: number): PredictionRecord => ({ predictionId: `p-${i}`, at: new Date().toISOString(), model: 'mnist', version: 1, variant: 'champion', class: i % 10, confidence: 0.9, input28: 'AAAA' });
  const written = async () => {
    const lines: string[] = [];
    for (const o of await store.list(storeKeys.predictionLogDir('mnist'))) lines.push(...new TextDecoder().decode(await store.get(o.key)).split('\n').filter(Boolean));
    return lines.map((l) => (JSON.parse(l) as PredictionRecord).predictionId);
  };
  const sample = async (share: number, seed: number, n: number) => {
    const log = new PredictionLog({ store, logger: silent, sampleShare: share, flushMs: 3_600_000, maxBatch: 100_000, random: mulberry32(seed) });
    for (let i = 0; i < n; i++) log.offer(() => record(i));
    await log.close();
  };

  it('the gateway keeps a tenth of predictions by default', () => {
    const config = loadConfig(GatewayConfigSchema, {});
    expect(config.PREDICTION_SAMPLE_SHARE).toBe(0.1);
    expect(config.PREDICTION_RETENTION_MS).toBe(30 * 24 * 3_600_000);
  });

  it('samples deterministically with a seeded generator: the share kept, the same predictions each time', async () => {
    await setUp();
    await sample(0.1, 42, 5000);
    const first = await written();
    // What the generator decides, predicted: the i-th prediction is kept when its draw is below the share.
    const draw = mulberry32(42);
    const expected = Array.from({ length: 5000 }, (_, i) => i).filter(() => draw() < 0.1).map((i) => `p-${i}`);
    expect(first).toEqual(expected);
    expect(first.length).toBeGreaterThan(400);
    expect(first.length).toBeLessThan(600);
    for (const o of await store.list(storeKeys.predictionLogs())) await store.delete(o.key);
    await sample(0.1, 42, 5000);
    expect(await written()).toEqual(first);
    for (const o of await store.list(storeKeys.predictionLogs())) await store.delete(o.key);
    await sample(1, 7, 50);
    expect(await written()).toHaveLength(50);
  });

  it('deletes prediction logs past their retention and nothing else', async () => {
    await setUp();
    const put = (key: string) => store.put(key, new TextEncoder().encode(`${JSON.stringify(record(1))}\n`));
    await put(storeKeys.predictionLog('mnist', '2026-11-01', 'old'));
    await put(storeKeys.predictionLog('fashion', '2026-11-01', 'old'));
    await store.put(storeKeys.checkpointPointer('job-x'), new TextEncoder().encode('{}')); // not a prediction log
    await new Promise((r) => setTimeout(r, 2100)); // S3 times have a resolution of a second
    await put(storeKeys.predictionLog('mnist', '2026-11-02', 'new'));
    const listed = await store.list(storeKeys.predictionLogs());
    const newest = Math.max(...listed.map((o) => o.lastModified.getTime()));
    const deleted: number[] = [];
    // "Now" is 0.5 s after the newest log: the two older ones (2.1 s before it) are past a 1 s retention.
    const retention = new PredictionRetention({ store, logger: silent, maxAgeMs: 1000, sweepMs: 3_600_000, now: () => newest + 500, onDeleted: (n) => deleted.push(n) });
    try {
      await eventually(() => deleted.length > 0, 10_000, 'the sweep at start-up');
      expect((await store.list(storeKeys.predictionLogs())).map((o) => o.key)).toEqual([storeKeys.predictionLog('mnist', '2026-11-02', 'new')]);
      expect(deleted).toEqual([2]);
      expect(await store.head(storeKeys.checkpointPointer('job-x'))).toBeDefined();
      expect(await retention.sweep()).toBe(0);
    } finally {
      await retention.stop();
    }
    // 0 keeps every log.
    const keepAll = new PredictionRetention({ store, logger: silent, maxAgeMs: 0, sweepMs: 3_600_000, now: () => newest + 10 * 3_600_000 });
    expect(await keepAll.sweep()).toBe(0);
    await keepAll.stop();
  });
});
