import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import type { Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import { exchangeSchemeOf, type EpochMetrics, type LabelledImages, type TrainJobRequested } from '@mlpipe/contracts';
import { evaluateWithLoss, gradientLength } from '@mlpipe/ml';
import type { DataPlan } from '../core/dataPlan';
import type { Receipt } from '../core/group';
import { decodeGroupKey } from '../core/frameSeal';
import { batchRange, shardRange, stepPosition, stepsPerEpoch } from '../core/sharding';
import type { EpochTallyState } from '../core/group';
import { Coordinator, type GroupChange } from './coordinator';
import { CoordinatorLease, LeaseLost } from './coordinatorLease';
import { DEFAULT_RING_TIMEOUT_MS, DpWorker, type StepTiming, type WorkerOutcome } from './dpWorker';
import { LinkClock } from './linkClock';

/** Timing of the group protocol; defaults suit a laptop, tests shorten them. */
export interface DpSettings {
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  stepTimeoutMs: number;
  /** How long the coordinator waits for the group to fill before starting with fewer replicas. */
  joinWindowMs: number;
  /** How long a worker keeps looking for a coordinator (and re-trying after losing one). */
  joinTimeoutMs: number;
  /** A NATS outage up to this long is ridden out in place; a longer one ends the attempt. */
  outageToleranceMs: number;
  /** A step without progress for this long is announced again. */
  retransmitMs: number;
  /** The coordinator lease's time to live: a dead coordinator's job is free after it. */
  leaseTtlMs: number;
  /** With `exchange: ring`: a member that hears nothing from its ring neighbour this long sends its gradient to the coordinator. */
  ringTimeoutMs?: number;
  maxPartBytes?: number;
}

export const DEFAULT_DP_SETTINGS: DpSettings = {
  heartbeatMs: 1000,
  heartbeatTimeoutMs: 10_000,
  stepTimeoutMs: 60_000,
  joinWindowMs: 20_000,
  joinTimeoutMs: 60_000,
  outageToleranceMs: 60_000,
  retransmitMs: 5000,
  leaseTtlMs: 10_000,
  ringTimeoutMs: DEFAULT_RING_TIMEOUT_MS,
};

export interface ExchangeStats {
  steps: number;
  computeMs: number;
  exchangeMs: number;
  bytesSent: number;
}

/** A member's timeouts, link and ring hook, the same for the coordinating replica's own member and for workers. */
function memberTimings(settings: DpSettings, clock: LinkClock, onRingFallback?: (reason: string, step: number) => void) {
  return {
    joinTimeoutMs: settings.joinTimeoutMs,
    coordinatorTimeoutMs: settings.stepTimeoutMs * 3,
    clock,
    outageToleranceMs: settings.outageToleranceMs,
    lease: { ttlMs: settings.leaseTtlMs },
    ...(settings.maxPartBytes ? { maxPartBytes: settings.maxPartBytes } : {}),
    // A ring that stalls falls back before the coordinator would count its members stalled.
    ringTimeoutMs: Math.min(settings.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS, settings.stepTimeoutMs / 2),
    // A joiner loads the weights before it computes; the coordinator waits a step timeout more for it too.
    ringAdmissionTimeoutMs: settings.stepTimeoutMs,
    ...(onRingFallback ? { onRingFallback } : {}),
  };
}

/** Why frames or gradients of the group were dropped unread (a forged seal, a NaN gradient, a wrong count). */
export type DroppedFrame = 'unsealed' | 'malformed' | 'non-finite' | 'wrong-count';

/**
 * The job's group key (from its message) and where drops are counted: the same for every member.
 * A job queued before group keys existed runs unsealed, as before.
 */
function groupSeal(job: TrainJobRequested, logger: Logger, onDrop?: (why: DroppedFrame) => void) {
  if (!job.groupKey) logger.warn('the job message carries no group key: its group frames travel unsealed');
  return { ...(job.groupKey ? { groupKey: decodeGroupKey(job.groupKey) } : {}), ...(onDrop ? { onDrop } : {}) };
}

export function exchangeSummary(s: ExchangeStats): { bytesPerStep: number; exchangeShare: number } {
  const total = s.computeMs + s.exchangeMs;
  return { bytesPerStep: s.steps ? s.bytesSent / s.steps : 0, exchangeShare: total ? s.exchangeMs / total : 0 };
}

const tallyTiming = (stats: ExchangeStats) => (t: StepTiming) => {
  stats.steps++;
  stats.computeMs += t.computeMs;
  stats.exchangeMs += t.exchangeMs;
  stats.bytesSent += t.bytesSent;
};

export interface CoordinateArgs {
  bus: Bus;
  job: TrainJobRequested;
  attempt: number;
  replicaId: string;
  logger: Logger;
  model: tf.LayersModel;
  plan: DataPlan;
  /** Steps already applied to `model` (a resumed job). */
  startStep: number;
  /** The sums of the epoch in progress at `startStep`, when it resumes mid-epoch. */
  partialEpoch?: EpochTallyState;
  settings: DpSettings;
  signal: AbortSignal;
  onEpoch: (m: EpochMetrics, members: string[]) => Promise<void>;
  /**
   * After each step that is not an epoch end: the caller may checkpoint (by time). `fenced()`
   * throws LeaseLost unless this replica holds a valid lease, so a stale coordinator moves no pointer.
   */
  onStepApplied?: (at: { step: number; epochSoFar: EpochTallyState; fenced: () => void }) => Promise<void>;
  onChange: (c: GroupChange & { group: string }) => void;
  onReceipt?: (r: Receipt) => void;
  onStep?: (t: StepTiming) => void;
  onDropped?: (why: DroppedFrame) => void;
  /** A member's ring all-reduce failed and its step went through the coordinator. */
  onRingFallback?: (reason: string, step: number) => void;
}

export interface GroupResult {
  finalMembers: string[];
  membershipChanges: number;
  exchange: ExchangeStats;
}

/**
 * The rank-0 replica of a data-parallel job: hosts the coordinator and trains as the group's
 * first member, validating, checkpointing and reporting at every epoch end.
 */
export async function trainAsCoordinator(a: CoordinateArgs): Promise<GroupResult> {
  const hp = a.job.hyperparams;
  const perEpoch = stepsPerEpoch(a.plan.train.count, hp.batchSize);
  const group = `${a.attempt}-${randomBytes(4).toString('hex')}`;
  const exchange: ExchangeStats = { steps: 0, computeMs: 0, exchangeMs: 0, bytesSent: 0 };
  const log = a.logger.child({ role: 'coordinator', group });
  const sealing = groupSeal(a.job, log, a.onDropped);
  const lease = new CoordinatorLease(a.bus, a.job.jobId, { ttlMs: a.settings.leaseTtlMs }, log);
  // A predecessor that died holds the lease for at most one TTL more.
  const generation = await lease.acquire(a.replicaId, a.attempt, group, a.settings.leaseTtlMs + 2000);
  log.info({ generation }, 'holding the job lease');
  const clock = new LinkClock(a.bus.connection);
  const coordinator = new Coordinator({
    bus: a.bus,
    jobId: a.job.jobId,
    group,
    attempt: a.attempt,
    lease,
    clock,
    outageToleranceMs: a.settings.outageToleranceMs,
    retransmitMs: a.settings.retransmitMs,
    ...(a.partialEpoch ? { partialEpoch: a.partialEpoch } : {}),
    logger: log,
    host: a.replicaId,
    maxMembers: a.job.replicas,
    startStep: a.startStep,
    totalSteps: hp.epochs * perEpoch,
    perEpoch,
    gradientLength: gradientLength(a.model),
    broadcast: hp.compression === 'none' ? 'f32' : 'f16',
    exchange: exchangeSchemeOf(hp),
    joinWindowMs: a.settings.joinWindowMs,
    stepTimeoutMs: a.settings.stepTimeoutMs,
    heartbeatMs: a.settings.heartbeatMs,
    heartbeatTimeoutMs: a.settings.heartbeatTimeoutMs,
    ...(a.settings.maxPartBytes ? { maxPartBytes: a.settings.maxPartBytes } : {}),
    ...sealing,
    shardCount: (step, rank, size) => shardRange(batchRange(stepPosition(step, perEpoch).batch, hp.batchSize, a.plan.train.count), rank, size).count,
    onChange: (c) => a.onChange({ ...c, group }),
    ...(a.onReceipt ? { onReceipt: a.onReceipt } : {}),
  });
  coordinator.listen();
  const stopWorker = new AbortController();
  const onJobAbort = () => coordinator.abort(String(a.signal.reason ?? 'cancelled'));
  a.signal.addEventListener('abort', onJobAbort, { once: true });
  const fenced = () => {
    if (!lease.valid()) throw new LeaseLost(`not holding a valid job lease: ${lease.lostReason() ?? 'it could not be renewed lately'}`);
  };
  const worker = new DpWorker({
    bus: a.bus,
    jobId: a.job.jobId,
    member: a.replicaId,
    logger: a.logger.child({ role: 'member' }),
    train: a.plan.train,
    hyperparams: hp,
    perEpoch,
    model: a.model,
    appliedThrough: a.startStep - 1,
    ...memberTimings(a.settings, clock, a.onRingFallback),
    ...sealing,
    signal: stopWorker.signal,
    onApplied: async (applied, model, members) => {
      const end = applied.epochEnd;
      if (!end) return a.onStepApplied?.({ step: applied.step, epochSoFar: coordinator.epochSoFar(), fenced });
      const metrics: EpochMetrics = { epoch: end.epoch, epochs: hp.epochs, loss: end.loss, accuracy: end.accuracy, samplesPerSec: end.samples / Math.max(end.seconds, 1e-9), seconds: end.seconds };
      if (a.plan.validation && a.plan.validation.count > 0) {
        const v = evaluateWithLoss(model, a.plan.validation);
        metrics.valLoss = v.loss;
        metrics.valAccuracy = v.accuracy;
      }
      // The epoch's checkpoint and progress event only under the lease (after an outage, once it is renewed).
      await lease.waitValid(a.settings.outageToleranceMs);
      await a.onEpoch(metrics, members);
    },
    onStep: (t) => {
      tallyTiming(exchange)(t);
      a.onStep?.(t);
    },
  });
  let trained = false;
  try {
    const coordinated = coordinator.run().then(
      () => undefined,
      (err: unknown) => {
        stopWorker.abort(err);
        throw err;
      },
    );
    // The group cannot go on without this replica's own member (it is never dropped): if it leaves, so does the coordinator.
    const membered = worker.run().then((w) => {
      if (w.outcome !== 'done') coordinator.abort(`the coordinating replica's member left: ${w.reason ?? w.outcome}`);
      return w;
    });
    const [worked] = await Promise.all([membered, coordinated]);
    if (worked.outcome !== 'done') throw new Error(`the coordinating replica left its group: ${worked.outcome} ${worked.reason ?? ''}`.trim());
    trained = true;
    return { finalMembers: coordinator.members(), membershipChanges: coordinator.membershipChanges, exchange };
  } finally {
    a.signal.removeEventListener('abort', onJobAbort);
    coordinator.close();
    clock.close();
    await lease.release({ trained });
  }
}

export interface AssistArgs {
  bus: Bus;
  job: TrainJobRequested;
  replicaId: string;
  logger: Logger;
  train: LabelledImages;
  settings: DpSettings;
  signal: AbortSignal;
  onStep?: (t: StepTiming) => void;
  onDropped?: (why: DroppedFrame) => void;
  onRingFallback?: (reason: string, step: number) => void;
}

/**
 * A worker replica (rank ≥ 1): joins the job's group and trains with it until it finishes. A lost
 * group is not looked for again: the replica is freed at once, and a coordinator that resumes the
 * job (on any replica, from its checkpoint) asks for workers anew.
 */
export async function assistJob(a: AssistArgs): Promise<{ outcome: WorkerOutcome; reason?: string }> {
  const hp = a.job.hyperparams;
  const clock = new LinkClock(a.bus.connection);
  const worker = new DpWorker({
    bus: a.bus,
    jobId: a.job.jobId,
    member: a.replicaId,
    logger: a.logger.child({ role: 'member' }),
    train: a.train,
    hyperparams: hp,
    perEpoch: stepsPerEpoch(a.train.count, hp.batchSize),
    ...memberTimings(a.settings, clock, a.onRingFallback),
    ...groupSeal(a.job, a.logger, a.onDropped),
    signal: a.signal,
    ...(a.onStep ? { onStep: a.onStep } : {}),
  });
  try {
    return await worker.run();
  } finally {
    worker.currentModel()?.dispose();
    clock.close();
  }
}
