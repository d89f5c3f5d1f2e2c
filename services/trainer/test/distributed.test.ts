import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import type { NatsConnection } from '@nats-io/nats-core';
import * as tfjs from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@mlpipe/bus';
import { createTestBus, mnistSamples } from '@mlpipe/testing';
import { createLogger } from '@mlpipe/runtime';
import { DP_PROTOCOL_VERSION, HyperparamsSchema, type EpochMetrics, type Hyperparams, type TrainJobRequested } from '@mlpipe/contracts';
import { createModel, initBackend, recipeFrom, trainModel } from '@mlpipe/ml';
import { decodeFrame } from '../src/core/frames';
import { decodeGroupKey } from '../src/core/frameSeal';
import { stepsPerEpoch } from '../src/core/sharding';
import type { Receipt } from '../src/core/group';
import type { GroupChange } from '../src/adapters/coordinator';
import { DpChannel, dpSubjects } from '../src/adapters/dpChannel';
import { DpWorker, type DpWorkerOptions } from '../src/adapters/dpWorker';
import { trainAsCoordinator, type DpSettings } from '../src/adapters/distributed';
import { LinkClock } from '../src/adapters/linkClock';
import { RingExchange } from '../src/adapters/ringExchange';

const logger = createLogger('dp-test', (process.env.DP_LOG as 'silent') ?? 'silent');
const train = mnistSamples('train', 1024);
const settings: DpSettings = { heartbeatMs: 200, heartbeatTimeoutMs: 2000, stepTimeoutMs: 2500, joinWindowMs: 2000, joinTimeoutMs: 4000, outageToleranceMs: 10_000, retransmitMs: 1000, leaseTtlMs: 3000, ringTimeoutMs: 1000 };
const baseHp = HyperparamsSchema.parse({ arch: 'cnn-small', epochs: 2, batchSize: 64, seed: 7, validationShare: 0 });
const flat = (m: tf.LayersModel) => Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
/** The connection, except that what it would publish on a subject `drop` names is lost (a faulty link). */
function dropping(nc: NatsConnection, drop: (subject: string) => boolean): NatsConnection {
  return new Proxy(nc, {
    get(target, key) {
      if (key === 'publish') return (subject: string, data?: Uint8Array) => (drop(subject) ? undefined : target.publish(subject, data));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((d, v, i) => Math.max(d, Math.abs(v - (b[i] as number))), 0);

interface GroupRun {
  epochs: EpochMetrics[];
  host: Float32Array;
  workers: Float32Array[];
  changes: GroupChange[];
  receipts: Receipt[];
  bytesPerStep: number;
}

describe('data-parallel training over real NATS (replicas in one process, each with its own connection)', () => {
  let bus: Bus & { dispose(): Promise<void> };
  const extraBuses: Bus[] = [];
  const timers: NodeJS.Timeout[] = [];
  const member = async (name: string) => {
    const b = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name, namespace: bus.namespace });
    extraBuses.push(b);
    return b;
  };
  beforeAll(async () => {
    await initBackend('wasm');
    bus = await createTestBus();
  });
  afterAll(async () => {
    timers.forEach(clearInterval);
    for (const b of extraBuses) await b.close();
    await bus.dispose();
  });

  let jobCounter = 0;
  /** Runs a group: the coordinating replica plus `workers` real members, joining at once or after the group's `joinAfterSteps`-th step. */
  async function runGroup(o: {
    replicas: number;
    workers: number;
    hp?: Hyperparams;
    joinAfterSteps?: number;
    meddle?: (jobId: string, groupKey: Uint8Array) => Promise<void>;
    /** Options for worker `i` (a faulty ring link, a hook). */
    worker?: (i: number) => Partial<DpWorkerOptions>;
    onRingFallback?: (member: string, reason: string, step: number) => void;
  }): Promise<GroupRun> {
    const hp = o.hp ?? baseHp;
    const jobId = `dp.job-${++jobCounter}`;
    const groupKey = randomBytes(32).toString('base64url');
    const job: TrainJobRequested = { jobId, modelName: 'mnist', dataset: 'mnist', datasetVersion: 'a'.repeat(64), hyperparams: hp, replicas: o.replicas, rank: 0, trigger: { kind: 'manual', reason: 'test' }, groupKey };
    await o.meddle?.(jobId, decodeGroupKey(groupKey));
    const epochs: EpochMetrics[] = [];
    const changes: GroupChange[] = [];
    const receipts: Receipt[] = [];
    const model = createModel(hp.arch, { seed: hp.seed, ...recipeFrom(hp, stepsPerEpoch(train.count, hp.batchSize)).optimizer });
    const workers = await Promise.all(
      Array.from({ length: o.workers }, async (_, i) => {
        const b = await member(`w${i}`);
        const clock = new LinkClock(b.connection);
        return new DpWorker({
          bus: b, jobId, member: `worker-${i}`, logger, train, hyperparams: hp, perEpoch: stepsPerEpoch(train.count, hp.batchSize), joinTimeoutMs: settings.joinTimeoutMs, coordinatorTimeoutMs: 8000, clock,
          outageToleranceMs: settings.outageToleranceMs, lease: { ttlMs: settings.leaseTtlMs }, groupKey: decodeGroupKey(groupKey), ringTimeoutMs: settings.ringTimeoutMs!,
          ringAdmissionTimeoutMs: settings.stepTimeoutMs, onRingFallback: (why, step) => o.onRingFallback?.(`worker-${i}`, why, step),
          ...o.worker?.(i),
        });
      }),
    );
    const controller = new AbortController();
    let steps = 0;
    let startWorkers: () => void = () => undefined;
    const workersMayStart = new Promise<void>((resolve) => (startWorkers = resolve));
    const hosting = trainAsCoordinator({
      bus, job, attempt: 1, replicaId: 'host', logger, model, plan: { train, validation: undefined, test: train }, startStep: 0, settings, signal: controller.signal,
      onEpoch: async (m) => void epochs.push(m),
      onChange: (c) => void changes.push(c),
      onReceipt: (r) => void receipts.push(r),
      onRingFallback: (why, step) => o.onRingFallback?.('host', why, step),
      onStep: () => {
        if (++steps >= (o.joinAfterSteps ?? 0)) startWorkers();
      },
    });
    const working = workers.map(async (w) => {
      if (o.joinAfterSteps) await workersMayStart; // the host trains alone until then, whatever the machine's speed
      return w.run();
    });
    const [result, ...outcomes] = await Promise.all([hosting, ...working]);
    outcomes.forEach((r) => expect(r.outcome).toBe('done'));
    const run = { epochs, host: flat(model), workers: workers.map((w) => flat(w.currentModel()!)), changes, receipts, bytesPerStep: result.exchange.bytesSent / Math.max(1, result.exchange.steps) };
    model.dispose();
    workers.forEach((w) => w.currentModel()?.dispose());
    return run;
  }

  let single: GroupRun;
  let pair: GroupRun;

  it('two replicas hold identical weights and match one replica with the same global batch', async () => {
    single = await runGroup({ replicas: 1, workers: 0 });
    pair = await runGroup({ replicas: 2, workers: 1 });
    expect(pair.workers[0]).toEqual(pair.host); // identical after every step, so bit for bit at the end
    expect(pair.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    pair.epochs.forEach((e, i) => expect(Math.abs(e.loss - single.epochs[i]!.loss)).toBeLessThan(1e-4));
    expect(pair.epochs[1]!.loss).toBeLessThan(pair.epochs[0]!.loss);
    // Adam divides by sqrt(v): float rounding in near-zero gradients moves weights a little, never far.
    expect(maxDiff(pair.host, single.host)).toBeLessThan(1e-2);
    expect(pair.changes.filter((c) => c.change === 'formed').map((c) => c.replica)).toEqual(['host', 'worker-0']);
    expect(pair.bytesPerStep).toBeGreaterThan(4 * 5000); // float32 gradients of ~6k parameters
  }, 60_000);

  it('matches ordinary single-process training (trainOnBatch) on the loss curve', async () => {
    const model = createModel(baseHp.arch, { seed: baseHp.seed, learningRate: baseHp.learningRate });
    const history = await trainModel(model, { train }, { epochs: 2, batchSize: 64, seed: baseHp.seed });
    history.forEach((h, i) => expect(Math.abs(h.loss - pair.epochs[i]!.loss)).toBeLessThan(1e-3));
    expect(maxDiff(flat(model), pair.host)).toBeLessThan(1e-2);
    model.dispose();
  }, 60_000);

  it('keeps two replicas equal to one process with augmentation, SGD momentum and a one-cycle schedule on', async () => {
    const hp = HyperparamsSchema.parse({ ...baseHp, optimizer: 'sgd', learningRate: 0.05, lrSchedule: 'one-cycle', augment: { rotateDeg: 15, shiftPx: 3, scale: 0.15, strokeProb: 0.5 } });
    const augmentedPair = await runGroup({ replicas: 2, workers: 1, hp });
    expect(augmentedPair.workers[0]).toEqual(augmentedPair.host);
    const recipe = recipeFrom(hp, stepsPerEpoch(train.count, hp.batchSize));
    const model = createModel(hp.arch, { seed: hp.seed, ...recipe.optimizer });
    const history = await trainModel(model, { train }, { epochs: hp.epochs, batchSize: hp.batchSize, seed: hp.seed, recipe });
    history.forEach((h, i) => expect(Math.abs(h.loss - augmentedPair.epochs[i]!.loss)).toBeLessThan(1e-3));
    expect(maxDiff(flat(model), augmentedPair.host)).toBeLessThan(1e-2);
    // The recipe changed training: a plain run of the same seed ends elsewhere.
    expect(Math.abs(augmentedPair.epochs[1]!.loss - pair.epochs[1]!.loss)).toBeGreaterThan(1e-3);
    model.dispose();
  }, 90_000);

  it('is reproducible: the same seed and group give the same weights bit for bit', async () => {
    const again = await runGroup({ replicas: 2, workers: 1 });
    expect(again.host).toEqual(pair.host);
  }, 60_000);

  it('ignores duplicated and late gradient messages instead of counting them twice', async () => {
    const spy = await member('spy');
    const run = await runGroup({
      replicas: 2,
      workers: 1,
      meddle: async (jobId) => {
        const subject = dpSubjects(bus.namespace, jobId).grad;
        const seen = new Set<string>();
        spy.nc.subscribe(subject, {
          callback: (_e, msg) => {
            const { header } = decodeFrame(msg.data);
            const key = `${header.msg}/${header.part}`;
            if (seen.has(key)) return;
            seen.add(key);
            const copy = msg.data.slice();
            spy.nc.publish(subject, copy);
            setTimeout(() => spy.nc.isClosed() || spy.nc.publish(subject, copy), 30);
          },
        });
        await spy.nc.flush();
      },
    });
    const steps = 2 * stepsPerEpoch(train.count, 64);
    expect(run.receipts.filter((r) => r === 'accepted')).toHaveLength(steps * 2);
    expect(run.receipts.filter((r) => r === 'duplicate' || r === 'stale').length).toBeGreaterThanOrEqual(steps);
    expect(run.host).toEqual(pair.host);
  }, 60_000);

  /** Two members that hold the job's key and join as the group forms: "staller" keeps its heartbeat but never sends a gradient, "ghost" goes quiet. */
  async function joinFakes(jobId: string, groupKey: Uint8Array): Promise<void> {
    const fakes = await member('fakes');
    // Their frames are sealed as a real replica's are.
    const channel = new DpChannel(fakes, jobId, 'fakes', logger, { key: groupKey });
    const s = channel.subjects;
    setTimeout(() => {
      for (const id of ['staller', 'ghost']) {
        void fakes.nc.request(s.join, channel.encodeJson(s.join, { protocol: DP_PROTOCOL_VERSION, member: id }), { timeout: 2000 }).then((m) => {
          const { group } = channel.decodeJson(`${s.join}.reply`, m.data) as { group: string };
          if (id === 'staller') timers.push(setInterval(() => channel.publishJson(s.heartbeat, { group, member: id }), 200));
        });
      }
    }, 100);
  }

  function expectFakesDroppedAtStepZero(run: GroupRun): void {
    const dropped = run.changes.filter((c) => c.change === 'dropped');
    expect(dropped.map((c) => c.replica).sort()).toEqual(['ghost', 'staller']);
    expect(dropped.find((c) => c.replica === 'ghost')?.reason).toMatch(/no heartbeat/);
    expect(dropped.find((c) => c.replica === 'staller')?.reason).toMatch(/stalled/);
    expect(dropped.every((c) => c.step === 0)).toBe(true);
  }

  it('drops a stalled member and a silent one, re-shards, and applies no step twice or half', async () => {
    const run = await runGroup({ replicas: 4, workers: 1, meddle: joinFakes });
    expectFakesDroppedAtStepZero(run);
    // The abandoned rounds were never applied: the result is exactly the undisturbed pair's.
    expect(run.host).toEqual(pair.host);
    expect(run.workers[0]).toEqual(pair.host);
  }, 60_000);

  it('admits a late joiner at a step boundary with the current weights and optimizer state', async () => {
    const run = await runGroup({ replicas: 2, workers: 1, joinAfterSteps: 3 });
    const joined = run.changes.find((c) => c.change === 'joined');
    expect(joined?.replica).toBe('worker-0');
    expect(joined!.step).toBeGreaterThan(0);
    // Bit-identical on an idle machine; once, under CI load, a few weights differed by float rounding
    // (sum of weights off by 1e-10): the joiner holds the group's weights, not a stale copy.
    expect(maxDiff(run.workers[0]!, run.host)).toBeLessThan(1e-6);
    expect(run.epochs).toHaveLength(2);
  }, 60_000);
  describe('with exchange: ring (members all-reduce among themselves; the coordinator sees counts only)', () => {
    const ringHp = HyperparamsSchema.parse({ ...baseHp, exchange: 'ring' });
    const steps = 2 * stepsPerEpoch(train.count, 64);
    /** Records the size of every frame sent to the coordinator's gradient subject. */
    const recordGradientFrames = (sizes: number[]) => async (jobId: string) => {
      const spy = await member('grad-spy');
      spy.nc.subscribe(dpSubjects(bus.namespace, jobId).grad, { callback: (_e, msg) => void sizes.push(msg.data.byteLength) });
      await spy.nc.flush();
    };

    it('two replicas end bit for bit where coordinator-reduce ends, and no gradient goes through the coordinator', async () => {
      const sizes: number[] = [];
      const run = await runGroup({ replicas: 2, workers: 1, hp: ringHp, meddle: recordGradientFrames(sizes) });
      expect(run.workers[0]).toEqual(run.host);
      // Two members: the ring's one float64 add, divide and rounding per value is meanOfSums exactly.
      expect(run.host).toEqual(pair.host);
      expect(run.epochs.map((e) => e.loss)).toEqual(pair.epochs.map((e) => e.loss));
      expect(sizes.length).toBeGreaterThanOrEqual(steps * 2);
      expect(Math.max(...sizes)).toBeLessThan(1024); // counts and losses; a cnn-small gradient is ~24 KiB
      expect(run.bytesPerStep).toBeGreaterThan(4 * 5000); // the host's chunks: half a gradient out in each phase
    }, 60_000);

    it('three replicas hold identical weights and follow one replica on the loss curve', async () => {
      const trio = await runGroup({ replicas: 3, workers: 2, hp: ringHp });
      trio.workers.forEach((w) => expect(w).toEqual(trio.host));
      trio.epochs.forEach((e, i) => expect(Math.abs(e.loss - single.epochs[i]!.loss)).toBeLessThan(1e-4));
      expect(maxDiff(trio.host, single.host)).toBeLessThan(1e-2);
      expect(trio.changes.filter((c) => c.change === 'formed')).toHaveLength(3);
    }, 60_000);

    it('falls back to coordinator-reduce for the steps whose ring chunks are lost, and ends bit for bit as undisturbed', async () => {
      const fallbacks: string[] = [];
      const sizes: number[] = [];
      // worker-0's link loses every ring chunk it sends in steps 3 and 5 (not its blame, nor any other frame).
      const lossyStep = (subject: string) => !subject.endsWith('.abort') && ['3', '5'].includes(subject.split('.').at(-4) ?? '');
      const run = await runGroup({
        replicas: 2,
        workers: 1,
        hp: ringHp,
        meddle: recordGradientFrames(sizes),
        worker: () => ({ ringExchange: (o) => new RingExchange({ ...o, nc: dropping(o.nc, lossyStep) }) }),
        onRingFallback: (m, why, step) => void fallbacks.push(`${m} ${why} at ${step}`),
      });
      expect(fallbacks.sort()).toEqual(['host timeout at 3', 'host timeout at 5', 'worker-0 timeout at 3', 'worker-0 timeout at 5']);
      // Both fell-back steps sent both gradients to the coordinator, every other step only counts.
      expect(sizes.filter((n) => n > 4 * 5000)).toHaveLength(4);
      expect(run.workers[0]).toEqual(run.host);
      expect(run.host).toEqual(pair.host);
    }, 60_000);

    it('drops a stalled member and a silent one that never take part in the ring, and applies no step twice or half', async () => {
      const run = await runGroup({ replicas: 4, workers: 1, hp: ringHp, meddle: joinFakes });
      expectFakesDroppedAtStepZero(run);
      expect(run.host).toEqual(pair.host);
      expect(run.workers[0]).toEqual(pair.host);
    }, 60_000);
  });

  it('ends a job whose model diverged (its own gradient is not finite) with the reason, instead of waiting on it', async () => {
    const jobId = `dp.job-${++jobCounter}`;
    const job: TrainJobRequested = { jobId, modelName: 'mnist', dataset: 'mnist', datasetVersion: 'a'.repeat(64), hyperparams: baseHp, replicas: 1, rank: 0, trigger: { kind: 'manual', reason: 'test' }, groupKey: randomBytes(32).toString('base64url') };
    const model = createModel(baseHp.arch, { seed: baseHp.seed, ...recipeFrom(baseHp, stepsPerEpoch(train.count, baseHp.batchSize)).optimizer });
    // What a learning rate far too high leaves behind: a weight that is no longer a number.
    model.setWeights(model.getWeights().map((w, i) => (i === 0 ? tfjs.fill(w.shape, Number.NaN) : w)));
    const started = Date.now();
    await expect(
      trainAsCoordinator({
        bus, job, attempt: 1, replicaId: 'host', logger, model, plan: { train, validation: undefined, test: train }, startStep: 0, settings, signal: new AbortController().signal,
        onEpoch: async () => undefined,
        onChange: () => undefined,
      }),
    ).rejects.toThrow(/diverged at step 0/);
    expect(Date.now() - started).toBeLessThan(settings.stepTimeoutMs);
    model.dispose();
  }, 60_000);
});
