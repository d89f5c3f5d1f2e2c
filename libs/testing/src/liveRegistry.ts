import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { publishEvent, type Bus } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { eventually, type Logger } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import type { Registry } from 'prom-client';
import { HyperparamsSchema, NUM_CLASSES, storeKeys, type OnnxExport } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { saveModel, type Evaluation } from '@mlpipe/ml';
import { createTestBus, type TestBus } from './bus';
import { createTestDatabase } from './database';

/** What the registry service's startRegistry takes (the part a live registry gives it). */
export interface LiveRegistryDeps {
  config: { GATE_MARGIN: number; GATE_CLASS_FLOOR: number };
  bus: Bus;
  pool: Pool;
  store: ObjectStore;
  logger: Logger;
  metrics: Registry;
}

/** What a started registry must offer: its HTTP app and a stop. */
export interface StartedRegistry {
  app: { listen(opts: { port: number; host: string }): Promise<string>; close(): Promise<unknown> };
  stop(): Promise<void>;
}

export interface LiveRegistry<R extends StartedRegistry = StartedRegistry> {
  bus: TestBus;
  pool: Pool;
  databaseUrl: string;
  store: ObjectStore;
  registry: R;
  url: string;
  /** Stores a model's artefacts and announces it as a completed job, as a trainer would; with `onnx`, its model.onnx and the caller's verdict on it too. */
  publishModel(jobId: string, model: tf.LayersModel, evaluation: Pick<Evaluation, 'accuracy'> & Partial<Evaluation>, onnx?: { bytes: Uint8Array; verdict: OnnxExport }): Promise<void>;
  waitForChampion(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A registry for other services' tests and benchmarks: real NATS (own namespace), a fresh
 * PostgreSQL database, a folder store, and the REST API listening on a free port. The caller
 * passes the registry's startRegistry (from @mlpipe/registry/service), so this lib imports no service.
 */
export async function startLiveRegistry<R extends StartedRegistry>(
  start: (deps: LiveRegistryDeps) => Promise<R>,
  gate = { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0 },
): Promise<LiveRegistry<R>> {
  const logger = createLogger('live-registry', 'silent');
  const bus = await createTestBus();
  const db = await createTestDatabase();
  const pool = await createPool(db.url);
  const dir = await mkdtemp(join(tmpdir(), 'mlpipe-live-'));
  const store = createObjectStore({ kind: 'fs', root: dir });
  const registry = await start({ config: gate, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
  const url = await registry.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    bus,
    pool,
    databaseUrl: db.url,
    store,
    registry,
    url,
    publishModel: async (jobId, model, ev, onnx) => {
      const prefix = storeKeys.modelArtefacts('mnist', jobId);
      const files = await saveModel(store, prefix, model);
      const onnxKey = onnx ? storeKeys.artefact(prefix, 'onnx') : undefined;
      if (onnx && onnxKey) await store.put(onnxKey, onnx.bytes);
      await publishEvent(bus, 'train.job.completed', {
        jobId, modelName: 'mnist', replicaId: 'test', dataset: 'mnist', datasetVersion: 'f'.repeat(64), trainSamples: 1,
        hyperparams: HyperparamsSchema.parse({}), backend: 'wasm', codeVersion: 'test',
        evaluation: {
          testAccuracy: ev.accuracy,
          testSamples: Math.max(1, ev.count ?? 1),
          perClassAccuracy: ev.perClassAccuracy ?? Array(NUM_CLASSES).fill(ev.accuracy),
          confusionMatrix: ev.confusionMatrix ?? Array.from({ length: NUM_CLASSES }, () => Array(NUM_CLASSES).fill(0)),
        },
        history: [], artefacts: { prefix, ...files, ...(onnxKey ? { onnxKey } : {}) }, durationSec: 1, ...(onnx ? { onnx: onnx.verdict } : {}),
      }, { source: 'test' });
    },
    waitForChampion: async (timeoutMs = 20_000) => {
      await eventually(async () => (await fetch(`${url}/models/mnist/aliases/champion`)).ok, timeoutMs, 'a champion in the registry');
    },
    close: async () => {
      await registry.stop();
      await registry.app.close();
      await bus.dispose();
      await pool.end();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
