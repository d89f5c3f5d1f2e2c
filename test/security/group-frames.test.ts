import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@mlpipe/runtime';
import { mnistSamples } from '@mlpipe/testing';
import { DP_PROTOCOL_VERSION, HyperparamsSchema, type TrainJobRequested } from '@mlpipe/contracts';
import { createModel, gradientLength, recipeFrom } from '@mlpipe/ml';
import { decodeFrame, encodeFrames } from '../../services/trainer/src/core/frames';
import { decodeGroupKey, seal, SEAL_BYTES } from '../../services/trainer/src/core/frameSeal';
import { batchRange, shardRange, stepPosition, stepsPerEpoch } from '../../services/trainer/src/core/sharding';
import type { GroupChange } from '../../services/trainer/src/adapters/coordinator';
import { dpSubjects } from '../../services/trainer/src/adapters/dpChannel';
import { DpWorker } from '../../services/trainer/src/adapters/dpWorker';
import { trainAsCoordinator, type DpSettings, type DroppedFrame } from '../../services/trainer/src/adapters/distributed';
import { LinkClock } from '../../services/trainer/src/adapters/linkClock';
import { useGroupBuses } from '../../services/trainer/test/hostAndWorker';

/**
 * Issue 13, group frames: a client that can publish on a job's group subjects but does not hold
 * the job message's key cannot abort, steer or join the group; a member that holds the key but
 * sends a NaN gradient, or one over more samples than its shard, is dropped frame by frame. The
 * job then ends with exactly the weights of an undisturbed run, and every drop is counted.
 */
const logger = createLogger('group-frames', 'silent');
const train = mnistSamples('train', 1024);
const hp = HyperparamsSchema.parse({ arch: 'cnn-small', epochs: 2, batchSize: 64, seed: 5, validationShare: 0 });
const perEpoch = stepsPerEpoch(train.count, hp.batchSize);
const settings: DpSettings = { heartbeatMs: 200, heartbeatTimeoutMs: 3000, stepTimeoutMs: 5000, joinWindowMs: 5000, joinTimeoutMs: 8000, outageToleranceMs: 20_000, retransmitMs: 1000, leaseTtlMs: 3000 };
/** The header of a sealed frame (the group's own), or undefined for any other (the forger's own frames among them). */
function sealedHeader(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    return decodeFrame(data.subarray(0, data.byteLength - SEAL_BYTES)).header;
  } catch {
    return undefined;
  }
}
const flat = (m: tf.LayersModel) => Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));

describe('attacks on a training group (real NATS, replicas each on their own connection)', () => {
  const buses = useGroupBuses();
  const { connect } = buses;

  let jobs = 0;
  /** A two-replica job; `attack` starts once the group has announced its first step. */
  async function runPair(attack?: (jobId: string, key: Uint8Array, length: number) => Promise<() => void>) {
    const jobId = `frames-${++jobs}`;
    const encodedKey = randomBytes(32).toString('base64url');
    const job: TrainJobRequested = { jobId, modelName: 'mnist', dataset: 'mnist', datasetVersion: 'b'.repeat(64), hyperparams: hp, replicas: 2, rank: 0, trigger: { kind: 'manual', reason: 'test' }, groupKey: encodedKey };
    const host = await connect(`host-${jobId}`);
    const wb = await connect(`worker-${jobId}`);
    const clock = new LinkClock(wb.connection);
    const drops: DroppedFrame[] = [];
    const onDrop = (why: DroppedFrame) => void drops.push(why);
    const worker = new DpWorker({ bus: wb, jobId, member: 'worker', logger, train, hyperparams: hp, perEpoch, joinTimeoutMs: settings.joinTimeoutMs, coordinatorTimeoutMs: 20_000, clock, outageToleranceMs: settings.outageToleranceMs, lease: { ttlMs: settings.leaseTtlMs }, groupKey: decodeGroupKey(encodedKey), onDrop });
    const model = createModel(hp.arch, { seed: hp.seed, ...recipeFrom(hp, perEpoch).optimizer });
    const changes: GroupChange[] = [];
    const stop = attack ? await attack(jobId, decodeGroupKey(encodedKey), gradientLength(model)) : () => undefined;
    try {
      const [, worked] = await Promise.all([
        trainAsCoordinator({
          bus: host, job, attempt: 1, replicaId: 'host', logger, model, plan: { train, validation: undefined, test: train }, startStep: 0, settings, signal: new AbortController().signal,
          onEpoch: async () => undefined,
          onChange: (c) => void changes.push(c),
          onDropped: onDrop,
        }),
        worker.run(),
      ]);
      return { host: flat(model), worker: worker.currentModel() ? flat(worker.currentModel()!) : undefined, worked, changes, drops };
    } finally {
      stop();
      clock.close();
      model.dispose();
      worker.currentModel()?.dispose();
    }
  }

  let undisturbed: Awaited<ReturnType<typeof runPair>>;
  it('trains undisturbed as the reference', async () => {
    undisturbed = await runPair();
    expect(undisturbed.worked.outcome).toBe('done');
    expect(undisturbed.worker).toEqual(undisturbed.host);
    expect(undisturbed.drops).toEqual([]);
  }, 60_000);

  it('drops forged frames from a client without the job key: no abort, no steered step, no intruder', async () => {
    let forged = 0;
    const run = await runPair(async (jobId) => {
      const s = dpSubjects(buses.bus().namespace, jobId);
      const outsider = await connect(`outsider-${jobId}`);
      // It can read the frames' headers (they are not secret) and answers each step with a forged
      // abort and a step whose "mean gradient" is garbage, at the right group and generation.
      const sub = outsider.nc.subscribe(s.ctl, {
        callback: (_e, msg) => {
          const header = sealedHeader(msg.data);
          if (header?.kind !== 'step' || typeof header.step !== 'number') return;
          const fence = { group: header.group, attempt: header.attempt, generation: header.generation };
          const frames = [
            ...encodeFrames(`forged-${forged++}`, { kind: 'step', ...fence, step: header.step + 1, round: 99, members: header.members, apply: { step: header.step, encoding: 'f32', count: 64 } }, new Uint8Array(4 * 20_000).fill(0x3f), 1 << 20),
            ...encodeFrames(`forged-${forged++}`, { kind: 'abort', ...fence, reason: 'forged abort' }, new Uint8Array(0), 1 << 20),
          ];
          for (const frame of frames) outsider.nc.publish(s.ctl, frame);
          // And an intruder asks to join, with a heartbeat to look alive.
          outsider.nc.publish(s.join, JSON.stringify({ protocol: DP_PROTOCOL_VERSION, member: 'intruder' }));
          outsider.nc.publish(s.heartbeat, JSON.stringify({ group: header.group, member: 'intruder' }));
        },
      });
      await outsider.nc.flush();
      return () => sub.unsubscribe();
    });
    expect(forged).toBeGreaterThan(10);
    expect(run.worked.outcome).toBe('done');
    expect(run.changes.map((c) => c.replica)).not.toContain('intruder');
    expect(run.host).toEqual(undisturbed.host);
    expect(run.worker).toEqual(undisturbed.host);
    expect(run.drops.filter((d) => d === 'unsealed').length).toBeGreaterThan(10);
  }, 60_000);

  it('drops a NaN gradient and one claiming more samples than its shard, even when sealed with the key', async () => {
    let sent = 0;
    const run = await runPair(async (jobId, key, length) => {
      const s = dpSubjects(buses.bus().namespace, jobId);
      const faulty = await connect(`faulty-${jobId}`);
      const nan = new Uint8Array(new Float32Array(length).fill(Number.NaN).buffer);
      const sealed = (subject: string, id: string, meta: object, payload: Uint8Array) => encodeFrames(id, meta, payload, 1 << 20).map((f) => seal(key, subject, f));
      // Before the real worker's answer to each step, a gradient in its name: NaN, or over 10,000 samples.
      const sub = faulty.nc.subscribe(s.ctl, {
        callback: (_e, msg) => {
          const header = sealedHeader(msg.data);
          if (header?.kind !== 'step' || typeof header.step !== 'number' || !Array.isArray(header.members)) return;
          const rank = header.members.indexOf('worker');
          if (rank < 0) return;
          const count = shardRange(batchRange(stepPosition(header.step, perEpoch).batch, hp.batchSize, train.count), rank, header.members.length).count;
          const meta = { group: header.group, attempt: header.attempt, generation: header.generation, step: header.step, round: header.round, member: 'worker', lossSum: 1, correct: 0, encoding: 'f32' };
          const frames = header.step % 2
            ? sealed(s.grad, `faulty-${sent++}`, { ...meta, count }, nan)
            : sealed(s.grad, `faulty-${sent++}`, { ...meta, count: 10_000 }, new Uint8Array(4 * length));
          for (const frame of frames) faulty.nc.publish(s.grad, frame);
        },
      });
      await faulty.nc.flush();
      return () => sub.unsubscribe();
    });
    expect(sent).toBeGreaterThan(10);
    expect(run.worked.outcome).toBe('done');
    expect(run.host).toEqual(undisturbed.host);
    expect(run.worker).toEqual(undisturbed.host);
    // Counted when they reach the round they name; one that comes after the real gradient closed it is stale instead (under load).
    expect(run.drops.filter((d) => d === 'non-finite').length).toBeGreaterThan(0);
    expect(run.drops.filter((d) => d === 'wrong-count').length).toBeGreaterThan(0);
  }, 60_000);
});
