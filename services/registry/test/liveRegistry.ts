import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { createTestBus, publishEvent } from '@mlpipe/bus';
import { createPool, createTestDatabase, type Pool } from '@mlpipe/db';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { HyperparamsSchema } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { saveModelToBytes, type Evaluation } from '@mlpipe/ml';
import { startRegistry, type RunningRegistry } from '../src/service';

export interface LiveRegistry {
  bus: Awaited<ReturnType<typeof createTestBus>>;
  pool: Pool;
  databaseUrl: string;
  store: ObjectStore;
  registry: RunningRegistry;
  url: string;
  /** Stores a model's artefacts and announces it as a completed job, as a trainer would. */
  publishModel(jobId: string, model: tf.LayersModel, evaluation: Pick<Evaluation, 'accuracy'> & Partial<Evaluation>): Promise<void>;
  waitForChampion(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A registry for other services' tests and benchmarks: real NATS (own namespace), a fresh
 * PostgreSQL database, a folder store, and the REST API listening on a free port.
 */
export async function startLiveRegistry(gate = { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0 }): Promise<LiveRegistry> {
  const logger = createLogger('live-registry', 'silent');
  const bus = await createTestBus();
  const db = await createTestDatabase();
  const pool = await createPool(db.url);
  const dir = await mkdtemp(join(tmpdir(), 'mlpipe-live-'));
  const store = createObjectStore({ kind: 'fs', root: dir });
  const registry = await startRegistry({ config: gate, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
  const url = await registry.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    bus,
    pool,
    databaseUrl: db.url,
    store,
    registry,
    url,
    publishModel: async (jobId, model, ev) => {
      const bytes = await saveModelToBytes(model);
      const prefix = `models/mnist/${jobId}/`;
      await store.put(`${prefix}model.json`, bytes.modelJson);
      await store.put(`${prefix}weights.bin`, bytes.weights);
      await publishEvent(bus, 'train.job.completed', {
        jobId, modelName: 'mnist', replicaId: 'test', dataset: 'mnist', datasetVersion: 'f'.repeat(64), trainSamples: 1,
        hyperparams: HyperparamsSchema.parse({}), backend: 'wasm', codeVersion: 'test',
        evaluation: {
          testAccuracy: ev.accuracy,
          testSamples: Math.max(1, ev.count ?? 1),
          perClassAccuracy: ev.perClassAccuracy ?? Array(10).fill(ev.accuracy),
          confusionMatrix: ev.confusionMatrix ?? Array.from({ length: 10 }, () => Array(10).fill(0)),
        },
        history: [], artefacts: { prefix, modelJsonKey: `${prefix}model.json`, weightsKey: `${prefix}weights.bin` }, durationSec: 1,
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
