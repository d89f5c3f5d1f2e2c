import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import type { Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import type { EpochMetrics, LabelledImages, TrainJobRequested } from '@mlpipe/contracts';
import { evaluateWithLoss, gradientLength } from '@mlpipe/ml';
import type { DataPlan } from '../core/dataPlan';
import type { Receipt } from '../core/group';
import { stepsPerEpoch } from '../core/sharding';
import { Coordinator, type GroupChange } from './coordinator';
import { DpWorker, type StepTiming, type WorkerOutcome } from './dpWorker';

/** Timing of the group protocol; defaults suit a laptop, tests shorten them. */
export interface DpSettings {
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  stepTimeoutMs: number;
  /** How long the coordinator waits for the group to fill before starting with fewer replicas. */
  joinWindowMs: number;
  /** How long a worker keeps looking for a coordinator (and re-trying after losing one). */
  joinTimeoutMs: number;
  maxPartBytes?: number;
}

export const DEFAULT_DP_SETTINGS: DpSettings = {
  heartbeatMs: 1000,
  heartbeatTimeoutMs: 10_000,
  stepTimeoutMs: 60_000,
  joinWindowMs: 20_000,
  joinTimeoutMs: 60_000,
};

export interface ExchangeStats {
  steps: number;
  computeMs: number;
  exchangeMs: number;
  bytesSent: number;
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
  initialEpoch: number;
  settings: DpSettings;
  signal: AbortSignal;
  onEpoch: (m: EpochMetrics, members: string[]) => Promise<void>;
  onChange: (c: GroupChange & { group: string }) => void;
  onReceipt?: (r: Receipt) => void;
  onStep?: (t: StepTiming) => void;
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
  const coordinator = new Coordinator({
    bus: a.bus,
    jobId: a.job.jobId,
    group,
    logger: a.logger.child({ role: 'coordinator', group }),
    host: a.replicaId,
    maxMembers: a.job.replicas,
    startStep: a.initialEpoch * perEpoch,
    totalSteps: hp.epochs * perEpoch,
    perEpoch,
    gradientLength: gradientLength(a.model),
    broadcast: hp.compression === 'none' ? 'f32' : 'f16',
    joinWindowMs: a.settings.joinWindowMs,
    stepTimeoutMs: a.settings.stepTimeoutMs,
    heartbeatMs: a.settings.heartbeatMs,
    heartbeatTimeoutMs: a.settings.heartbeatTimeoutMs,
    ...(a.settings.maxPartBytes ? { maxPartBytes: a.settings.maxPartBytes } : {}),
    onChange: (c) => a.onChange({ ...c, group }),
    ...(a.onReceipt ? { onReceipt: a.onReceipt } : {}),
  });
  coordinator.listen();
  const stopWorker = new AbortController();
  const onJobAbort = () => coordinator.abort(String(a.signal.reason ?? 'cancelled'));
  a.signal.addEventListener('abort', onJobAbort, { once: true });
  const worker = new DpWorker({
    bus: a.bus,
    jobId: a.job.jobId,
    member: a.replicaId,
    logger: a.logger.child({ role: 'member' }),
    train: a.plan.train,
    hyperparams: hp,
    perEpoch,
    model: a.model,
    appliedThrough: a.initialEpoch * perEpoch - 1,
    joinTimeoutMs: a.settings.joinTimeoutMs,
    coordinatorTimeoutMs: a.settings.stepTimeoutMs * 3,
    ...(a.settings.maxPartBytes ? { maxPartBytes: a.settings.maxPartBytes } : {}),
    signal: stopWorker.signal,
    onApplied: async (applied, model, members) => {
      const end = applied.epochEnd;
      if (!end) return;
      const metrics: EpochMetrics = { epoch: end.epoch, epochs: hp.epochs, loss: end.loss, accuracy: end.accuracy, samplesPerSec: end.samples / Math.max(end.seconds, 1e-9), seconds: end.seconds };
      if (a.plan.validation && a.plan.validation.count > 0) {
        const v = evaluateWithLoss(model, a.plan.validation);
        metrics.valLoss = v.loss;
        metrics.valAccuracy = v.accuracy;
      }
      await a.onEpoch(metrics, members);
    },
    onStep: (t) => {
      tallyTiming(exchange)(t);
      a.onStep?.(t);
    },
  });
  try {
    const coordinated = coordinator.run().then(
      () => undefined,
      (err: unknown) => {
        stopWorker.abort(err);
        throw err;
      },
    );
    const [worked] = await Promise.all([worker.run(), coordinated]);
    if (worked.outcome !== 'done') throw new Error(`the coordinating replica left its group: ${worked.outcome} ${worked.reason ?? ''}`.trim());
    return { finalMembers: coordinator.members(), membershipChanges: coordinator.membershipChanges, exchange };
  } finally {
    a.signal.removeEventListener('abort', onJobAbort);
    coordinator.close();
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
}

/**
 * A worker replica (rank ≥ 1): joins the job's group and trains with it until it finishes. A lost
 * coordinator (its replica died) is looked for again until the join timeout, since the job
 * resumes on another replica from its checkpoint and forms a new group.
 */
export async function assistJob(a: AssistArgs): Promise<{ outcome: WorkerOutcome; reason?: string }> {
  const hp = a.job.hyperparams;
  const perEpoch = stepsPerEpoch(a.train.count, hp.batchSize);
  for (;;) {
    const worker = new DpWorker({
      bus: a.bus,
      jobId: a.job.jobId,
      member: a.replicaId,
      logger: a.logger.child({ role: 'member' }),
      train: a.train,
      hyperparams: hp,
      perEpoch,
      joinTimeoutMs: a.settings.joinTimeoutMs,
      coordinatorTimeoutMs: a.settings.stepTimeoutMs * 3,
      ...(a.settings.maxPartBytes ? { maxPartBytes: a.settings.maxPartBytes } : {}),
      signal: a.signal,
      ...(a.onStep ? { onStep: a.onStep } : {}),
    });
    const result = await worker.run();
    worker.currentModel()?.dispose();
    if (result.outcome !== 'lost' || a.signal.aborted || result.reason?.startsWith('no coordinator answered')) return result;
    a.logger.warn({ reason: result.reason }, 'lost the group; looking for its coordinator again');
  }
}
