import { performance } from 'node:perf_hooks';
import type * as tf from '@tensorflow/tfjs';
import { publishEvent } from '@mlpipe/bus';
import { describeError, isTransient, TransientError, ValidationError, type Logger } from '@mlpipe/common';
import type { EpochMetrics, LabelledImages } from '@mlpipe/contracts';
import { loadDatasetVersion } from '@mlpipe/dataset';
import { createModel, loadModelFromBytes, recipeFrom, type Recipe } from '@mlpipe/ml';
import { CheckpointStore } from '../adapters/checkpoints';
import { planData, type DataPlan } from '../core/dataPlan';
import type { EpochTallyState } from '../core/group';
import { stepsPerEpoch } from '../core/sharding';
import { eventPatienceMs, type RunnerDeps, type RunOptions } from './deps';

/** A job ready to train on this replica: its data, its model (fresh or from the last checkpoint), its history so far. */
export interface PreparedJob {
  role: 'train';
  run: RunOptions;
  plan: DataPlan;
  model: tf.LayersModel;
  recipe: Recipe;
  history: EpochMetrics[];
  initialEpoch: number;
  /** Steps already applied (a resumed job may stop mid-epoch) and the sums of that epoch so far. */
  startStep: number;
  partialEpoch?: EpochTallyState;
  /** performance.now() of the last checkpoint (or the start), for checkpoints by time. */
  lastCheckpointAt: number;
  checkpoints: CheckpointStore;
  log: Logger;
  source: string;
  startedAt: number;
}

/** A worker replica (rank ≥ 1) needs only the train split: its group's coordinator holds the model. */
export interface AssistingJob {
  role: 'assist';
  train: LabelledImages;
}

/** Loads the data; for the coordinating replica also the model, resumed where a checkpoint exists, and announces the start. */
export async function prepareJob(run: RunOptions, deps: RunnerDeps): Promise<PreparedJob | AssistingJob> {
  const { job, attempt } = run;
  const hp = job.hyperparams;
  const startedAt = performance.now();
  const data = await loadDatasetVersion(deps.store, job.dataset, job.datasetVersion).catch((cause: unknown) => {
    const why = `dataset version ${job.datasetVersion.slice(0, 12)} cannot be loaded: ${describeError(cause)}`;
    // The store being down is a reason to wait, not to fail the job for good.
    throw isTransient(cause) ? new TransientError(why, { cause }) : new ValidationError(why, { cause });
  });
  const plan = planData(data.train, data.test, hp);
  if (plan.train.count === 0 || plan.test.count === 0) throw new ValidationError('the job selects no train or no test samples');
  if (job.rank > 0) return { role: 'assist', train: plan.train };

  const log = deps.logger.child({ jobId: job.jobId, attempt });
  const source = `trainer/${deps.replicaId}`;
  const checkpoints = new CheckpointStore(deps.store);
  const perEpoch = stepsPerEpoch(plan.train.count, hp.batchSize);
  const resume = await checkpoints.latest(job.jobId, perEpoch);
  const recipe = recipeFrom(hp, perEpoch);
  const model = resume ? await loadModelFromBytes(resume.model, recipe.optimizer) : createModel(hp.arch, { seed: hp.seed, ...recipe.optimizer });
  const history: EpochMetrics[] = resume ? [...resume.history] : [];
  const initialEpoch = resume?.epoch ?? 0;
  const startStep = resume?.steps ?? 0;
  log.info({ backend: deps.backend, train: plan.train.count, test: plan.test.count, resumedFromEpoch: initialEpoch, resumedFromStep: startStep }, 'training');
  await publishEvent(
    deps.bus,
    'train.job.started',
    {
      jobId: job.jobId,
      modelName: job.modelName,
      replicaId: deps.replicaId,
      attempt,
      backend: deps.backend,
      resumedFromEpoch: initialEpoch,
      resumedFromStep: startStep,
      hyperparams: hp,
      datasetVersion: job.datasetVersion,
      codeVersion: deps.codeVersion,
      ...(job.sweep ? { sweep: job.sweep } : {}),
    },
    // Not given up on the first unanswered publish: a stream electing a leader after a partition
    // does not store it for a moment, and failing the attempt for that started yet another one.
    { source, eventId: `train.job.started:${job.jobId}:${attempt}`, retryForMs: eventPatienceMs(deps) },
  );
  return { role: 'train', run, plan, model, recipe, history, initialEpoch, startStep, ...(resume?.partialEpoch ? { partialEpoch: resume.partialEpoch } : {}), checkpoints, log, source, startedAt, lastCheckpointAt: performance.now() };
}
