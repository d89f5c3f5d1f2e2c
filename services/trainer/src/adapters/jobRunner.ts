import { performance } from 'node:perf_hooks';
import { ARTEFACTS, storeKeys, type EpochMetrics, type LabelledImages, type TrainJobCompleted, type TrainJobRequested } from '@mlpipe/contracts';
import { publishEvent, type Bus } from '@mlpipe/bus';
import { describeError, ValidationError, type Logger } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { loadDatasetVersion } from '@mlpipe/dataset';
import { createModel, evaluateModel, evaluateTransformed, loadModel, loadModelFromBytes, recipeFrom, saveModel, saveModelToBytes, trainModel } from '@mlpipe/ml';
import { planData } from '../core/dataPlan';
import { renderModelCard } from '../core/modelCard';
import { CheckpointStore } from './checkpoints';
import { assistJob, DEFAULT_DP_SETTINGS, exchangeSummary, trainAsCoordinator, type DpSettings, type GroupResult } from './distributed';
import type { StepTiming } from './dpWorker';
import type { Receipt } from '../core/group';

export interface RunnerDeps {
  bus: Bus;
  store: ObjectStore;
  logger: Logger;
  replicaId: string;
  backend: string;
  codeVersion: string;
  onEpochMetrics?: (jobId: string, m: EpochMetrics) => void;
  onStepTiming?: (jobId: string, t: StepTiming) => void;
  onGradientReceipt?: (r: Receipt) => void;
  dp?: DpSettings;
}

/** `assisted`: a worker replica (rank ≥ 1) helped its group until the group finished. */
export type RunOutcome = 'completed' | 'cancelled' | 'assisted';

/** Abort reason when the replica itself stops: the job is handed back (not cancelled) and resumes elsewhere. */
export class ShutdownAbort extends Error {
  constructor() {
    super('the trainer replica is shutting down; the job resumes from its last checkpoint on another attempt');
  }
}

/**
 * Runs one attempt of one job: load data, resume from the last checkpoint if any, train with a
 * checkpoint and a progress event per epoch, evaluate on the held-out test split, store the
 * artefacts and announce the result. Every event id is derived from job, attempt and epoch, so
 * a replayed attempt publishes nothing twice.
 */
export async function runJob(
  job: TrainJobRequested,
  attempt: number,
  deps: RunnerDeps,
  opts: { signal: AbortSignal; heartbeat: () => void },
): Promise<RunOutcome> {
  const { bus, store, replicaId } = deps;
  const log = deps.logger.child({ jobId: job.jobId, attempt });
  const source = `trainer/${replicaId}`;
  const hp = job.hyperparams;
  const started = performance.now();

  const data = await loadDatasetVersion(store, job.dataset, job.datasetVersion).catch((cause: unknown) => {
    throw new ValidationError(`dataset version ${job.datasetVersion.slice(0, 12)} cannot be loaded: ${describeError(cause)}`, { cause });
  });
  const plan = planData(data.train, data.test, hp);
  if (plan.train.count === 0 || plan.test.count === 0) throw new ValidationError('the job selects no train or no test samples');
  const dp = deps.dp ?? DEFAULT_DP_SETTINGS;
  if (job.rank > 0) return assist(job, plan.train, deps, dp, opts);

  const checkpoints = new CheckpointStore(store);
  const resume = await checkpoints.latest(job.jobId);
  const recipe = recipeFrom(hp, Math.ceil(plan.train.count / hp.batchSize));
  const model = resume ? await loadModelFromBytes(resume.model, recipe.optimizer) : createModel(hp.arch, { seed: hp.seed, ...recipe.optimizer });
  const history: EpochMetrics[] = resume ? [...resume.history] : [];
  const initialEpoch = resume?.epoch ?? 0;
  log.info({ backend: deps.backend, train: plan.train.count, test: plan.test.count, resumedFromEpoch: initialEpoch }, 'training');

  await publishEvent(
    bus,
    'train.job.started',
    {
      jobId: job.jobId,
      modelName: job.modelName,
      replicaId,
      attempt,
      backend: deps.backend,
      resumedFromEpoch: initialEpoch,
      hyperparams: hp,
      datasetVersion: job.datasetVersion,
      codeVersion: deps.codeVersion,
      ...(job.sweep ? { sweep: job.sweep } : {}),
    },
    { source, eventId: `train.job.started:${job.jobId}:${attempt}` },
  );

  /** Checkpoint first, then report: a progress event always points at a checkpoint that exists. */
  const onEpoch = async (m: EpochMetrics, members?: string[]) => {
    const metrics: EpochMetrics = { ...m };
    history.push(metrics);
    const prefix = await checkpoints.save(job.jobId, { epoch: m.epoch, history, model: await saveModelToBytes(model) });
    deps.onEpochMetrics?.(job.jobId, metrics);
    log.info({ epoch: m.epoch, loss: m.loss, valAccuracy: m.valAccuracy, samplesPerSec: m.samplesPerSec, members }, 'epoch done');
    await publishEvent(
      bus,
      'train.job.progress',
      { jobId: job.jobId, replicaId, attempt, metrics, checkpointKey: prefix, ...(members ? { members } : {}) },
      { source, eventId: `train.job.progress:${job.jobId}:${m.epoch}` },
    );
  };

  try {
    let group: GroupResult | undefined;
    if (initialEpoch < hp.epochs && job.replicas > 1) {
      if (attempt > 1) await recallWorkers(job, attempt, deps);
      group = await trainAsCoordinator({
        bus,
        job,
        attempt,
        replicaId,
        logger: log,
        model,
        plan,
        initialEpoch,
        settings: dp,
        signal: opts.signal,
        onEpoch: (m, members) => onEpoch(m, members),
        onChange: (c) => {
          opts.heartbeat();
          publishEvent(bus, 'train.group.changed', { jobId: job.jobId, ...c }, { source }).catch((err: unknown) =>
            log.warn({ err: describeError(err) }, 'could not publish a group change'),
          );
        },
        onStep: (t) => {
          opts.heartbeat();
          deps.onStepTiming?.(job.jobId, t);
        },
        ...(deps.onGradientReceipt ? { onReceipt: deps.onGradientReceipt } : {}),
      });
    } else if (initialEpoch < hp.epochs) {
      await trainModel(
        model,
        { train: plan.train, ...(plan.validation ? { validation: plan.validation } : {}) },
        { epochs: hp.epochs, batchSize: hp.batchSize, seed: hp.seed, initialEpoch, recipe, signal: opts.signal, onBatch: () => opts.heartbeat(), onEpoch: (m) => onEpoch(m) },
      );
    }
    if (opts.signal.aborted) throw opts.signal.reason;

    const evaluation = evaluateModel(model, plan.test);
    const transformedTestAccuracy = evaluateTransformed(model, plan.test);
    const baselineEvaluation = job.baseline ? await evaluateBaseline(job.baseline, plan.test, store, log) : undefined;
    const prefix = storeKeys.modelArtefacts(job.modelName, job.jobId);
    const modelFiles = await saveModel(store, prefix, model);
    const completed = {
      jobId: job.jobId,
      modelName: job.modelName,
      replicaId,
      dataset: job.dataset,
      datasetVersion: job.datasetVersion,
      trainSamples: plan.train.count,
      hyperparams: hp,
      backend: deps.backend,
      codeVersion: deps.codeVersion,
      evaluation: {
        testAccuracy: evaluation.accuracy,
        testSamples: evaluation.count,
        perClassAccuracy: evaluation.perClassAccuracy,
        confusionMatrix: evaluation.confusionMatrix,
        transformedTestAccuracy,
      },
      history,
      durationSec: (performance.now() - started) / 1000,
      ...(job.sweep ? { sweep: job.sweep } : {}),
      ...(baselineEvaluation ? { baselineEvaluation } : {}),
      ...(group
        ? {
            distributed: {
              replicasRequested: job.replicas,
              finalMembers: group.finalMembers,
              membershipChanges: group.membershipChanges,
              ...exchangeSummary(group.exchange),
            },
          }
        : {}),
    } satisfies Omit<TrainJobCompleted, 'artefacts'>;
    await store.put(storeKeys.artefact(prefix, 'modelCard'), new TextEncoder().encode(renderModelCard(completed)), {
      contentType: ARTEFACTS.modelCard.contentType,
    });
    await publishEvent(
      bus,
      'train.job.completed',
      { ...completed, artefacts: { prefix, ...modelFiles } },
      { source, eventId: `train.job.completed:${job.jobId}` },
    );
    log.info({ testAccuracy: evaluation.accuracy, transformedTestAccuracy }, 'job completed');
    return 'completed';
  } catch (err) {
    if (!opts.signal.aborted || opts.signal.reason instanceof ShutdownAbort) throw err;
    const atEpoch = history.at(-1)?.epoch ?? 0;
    await publishEvent(
      bus,
      'train.job.cancelled',
      { jobId: job.jobId, replicaId, atEpoch },
      { source, eventId: `train.job.cancelled:${job.jobId}` },
    );
    log.info({ atEpoch }, 'job cancelled');
    return 'cancelled';
  } finally {
    model.dispose();
  }
}

/** A resumed coordinator asks for its workers again: the old worker messages may have been used up. */
async function recallWorkers(job: TrainJobRequested, attempt: number, deps: RunnerDeps): Promise<void> {
  for (let rank = 1; rank < job.replicas; rank++) {
    await publishEvent(deps.bus, 'train.job.requested', { ...job, rank }, { source: `trainer/${deps.replicaId}`, eventId: `train.job.requested:${job.jobId}:rank${rank}:attempt${attempt}` });
  }
}

/** Rank ≥ 1: train with the job's group; the coordinating replica reports and stores everything. */
async function assist(
  job: TrainJobRequested,
  train: LabelledImages,
  deps: RunnerDeps,
  dp: DpSettings,
  opts: { signal: AbortSignal; heartbeat: () => void },
): Promise<RunOutcome> {
  const log = deps.logger.child({ jobId: job.jobId, rank: job.rank });
  const result = await assistJob({
    bus: deps.bus,
    job,
    replicaId: deps.replicaId,
    logger: log,
    train,
    settings: dp,
    signal: opts.signal,
    onStep: (t) => {
      opts.heartbeat();
      deps.onStepTiming?.(job.jobId, t);
    },
  });
  if (opts.signal.aborted && opts.signal.reason instanceof ShutdownAbort) throw opts.signal.reason;
  log.info({ outcome: result.outcome, reason: result.reason }, 'left the training group');
  return result.outcome === 'aborted' ? 'cancelled' : 'assisted';
}

/** The champion the job was created under, scored on this job's test split (the gate compares like with like). */
async function evaluateBaseline(
  baseline: NonNullable<TrainJobRequested['baseline']>,
  test: LabelledImages,
  store: ObjectStore,
  log: Logger,
): Promise<{ version: number; testAccuracy: number; perClassAccuracy: number[] } | undefined> {
  try {
    const model = await loadModel(store, baseline.artefactPrefix);
    try {
      const e = evaluateModel(model, test);
      log.info({ baseline: baseline.version, testAccuracy: e.accuracy }, 'champion scored on this job\'s test split');
      return { version: baseline.version, testAccuracy: e.accuracy, perClassAccuracy: e.perClassAccuracy };
    } finally {
      model.dispose();
    }
  } catch (err) {
    log.warn({ baseline: baseline.version, err: describeError(err) }, 'could not score the champion on this job\'s test split; the gate uses its recorded accuracy');
    return undefined;
  }
}
