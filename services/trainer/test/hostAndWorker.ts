import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll } from 'vitest';
import { connectBus, type Bus } from '@mlpipe/bus';
import type { Hyperparams, TrainJobRequested } from '@mlpipe/contracts';
import type { LabelledImages } from '@mlpipe/dataset';
import { createModel, initBackend, recipeFrom } from '@mlpipe/ml';
import { createTestBus, type TestBus } from '@mlpipe/testing';
import type { Logger } from '@mlpipe/common';
import { decodeGroupKey } from '../src/core/frameSeal';
import type { GroupChange } from '../src/adapters/coordinator';
import { DpWorker, type DpWorkerOptions } from '../src/adapters/dpWorker';
import { trainAsCoordinator, type DpSettings } from '../src/adapters/distributed';
import { LinkClock } from '../src/adapters/linkClock';

/**
 * A two-replica group on one NATS server, as the trainer's fault tests run it: a coordinating host
 * and one worker on its own connection, so a test can cut the worker's link and watch the group.
 */

/**
 * Called in a describe block: the WASM backend and a test bus (own namespace) before its tests, and
 * `connect` for the other members' own connections to it; all closed after them.
 */
export function useGroupBuses(): { bus: () => TestBus; connect: (name: string) => Promise<Bus> } {
  let bus: TestBus | undefined;
  const buses: Bus[] = [];
  beforeAll(async () => {
    await initBackend('wasm');
    bus = await createTestBus();
  });
  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await bus?.dispose();
  });
  const current = () => {
    if (!bus) throw new Error('useGroupBuses: the bus exists only once beforeAll has run');
    return bus;
  };
  const connect = async (name: string) => {
    const b = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name, namespace: current().namespace });
    buses.push(b);
    return b;
  };
  return { bus: current, connect };
}

/** The request the coordinating replica (rank 0) of a two-replica job gets, with a fresh group key. */
export function twoReplicaJob(idPrefix: string, hyperparams: Hyperparams): TrainJobRequested {
  const groupKey = randomBytes(32).toString('base64url');
  return { jobId: `${idPrefix}-${Date.now()}`, modelName: 'mnist', dataset: 'mnist', datasetVersion: 'a'.repeat(64), hyperparams, replicas: 2, rank: 0, trigger: { kind: 'manual', reason: 'test' }, groupKey };
}

export interface HostAndWorker {
  bus: Bus;
  workerBus: Bus;
  job: TrainJobRequested;
  logger: Logger;
  train: LabelledImages;
  perEpoch: number;
  settings: DpSettings;
  /** How long the worker keeps looking for a lost coordinator. */
  coordinatorTimeoutMs: number;
  onApplied: NonNullable<DpWorkerOptions['onApplied']>;
  /** Each host step is slowed by this much, so a cut-off worker can come back before the job is over. */
  hostStepDelayMs: number;
  /** Filled with the group's changes as they happen (a test's cut watches it). */
  changes: GroupChange[];
}

/** Trains the job to its end on both; both outcomes, the worker and the host's model. */
export async function trainHostAndWorker(o: HostAndWorker) {
  const hp = o.job.hyperparams;
  const clock = new LinkClock(o.workerBus.connection);
  const worker = new DpWorker({
    bus: o.workerBus, jobId: o.job.jobId, member: 'worker', logger: o.logger, train: o.train, hyperparams: hp, perEpoch: o.perEpoch,
    joinTimeoutMs: o.settings.joinTimeoutMs, coordinatorTimeoutMs: o.coordinatorTimeoutMs, clock, outageToleranceMs: o.settings.outageToleranceMs,
    lease: { ttlMs: o.settings.leaseTtlMs }, groupKey: decodeGroupKey(o.job.groupKey!), onApplied: o.onApplied,
  });
  const model = createModel(hp.arch, { seed: hp.seed, ...recipeFrom(hp, o.perEpoch).optimizer });
  try {
    const [result, worked] = await Promise.all([
      trainAsCoordinator({
        bus: o.bus, job: o.job, attempt: 1, replicaId: 'host', logger: o.logger, model, plan: { train: o.train, validation: undefined, test: o.train }, startStep: 0,
        settings: o.settings, signal: new AbortController().signal,
        onEpoch: async () => undefined,
        onChange: (c) => void o.changes.push(c),
        onStepApplied: () => new Promise<void>((r) => setTimeout(r, o.hostStepDelayMs)),
      }),
      worker.run(),
    ]);
    return { result, worked, worker, model };
  } finally {
    clock.close();
  }
}

/** The largest absolute difference between two models' weights, taken in the same order. */
export function weightGap(a: tf.LayersModel, b: tf.LayersModel): number {
  const flat = (m: tf.LayersModel) => Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
  const x = flat(a);
  return flat(b).reduce((d, v, i) => Math.max(d, Math.abs(v - x[i]!)), 0);
}
