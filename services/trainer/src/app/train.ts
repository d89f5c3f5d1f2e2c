import { performance } from 'node:perf_hooks';
import { publishEvent } from '@mlpipe/bus';
import { describeError } from '@mlpipe/common';
import type { EpochMetrics } from '@mlpipe/contracts';
import { saveModelToBytes, trainModel } from '@mlpipe/ml';
import { DEFAULT_DP_SETTINGS, trainAsCoordinator, type GroupResult } from '../adapters/distributed';
import type { EpochTallyState } from '../core/group';
import { stepsPerEpoch } from '../core/sharding';
import { DEFAULT_CHECKPOINT_EVERY_MS, eventPatienceMs, type RunnerDeps, type RunOptions } from './deps';
import type { PreparedJob } from './prepare';

/**
 * Trains the prepared model to the job's last epoch: alone, or as the coordinator of a data-parallel
 * group (the group's result is handed back for the completion event). Nothing to do for a job
 * resumed after its last epoch.
 */
export async function trainPrepared(p: PreparedJob, deps: RunnerDeps): Promise<GroupResult | undefined> {
  const { run } = p;
  const { job, attempt } = run;
  const hp = job.hyperparams;
  if (p.initialEpoch >= hp.epochs) return undefined;
  const onEpoch = (m: EpochMetrics, members?: string[]) => checkpointAndReport(p, deps, m, members);
  const byTime = timedCheckpoints(p, deps);
  if (job.replicas <= 1) {
    await trainModel(
      p.model,
      { train: p.plan.train, ...(p.plan.validation ? { validation: p.plan.validation } : {}) },
      {
        epochs: hp.epochs,
        batchSize: hp.batchSize,
        seed: hp.seed,
        initialStep: p.startStep,
        ...(p.partialEpoch ? { partialEpoch: p.partialEpoch } : {}),
        recipe: p.recipe,
        signal: run.signal,
        onBatch: () => run.heartbeat(),
        onEpoch: (m) => onEpoch(m),
        afterStep: ({ step, epochSoFar }) => byTime(step, epochSoFar),
      },
    );
    return undefined;
  }
  if (attempt > 1) await recallWorkers(run, deps);
  return trainAsCoordinator({
    bus: deps.bus,
    job,
    attempt,
    replicaId: deps.replicaId,
    logger: p.log,
    model: p.model,
    plan: p.plan,
    startStep: p.startStep,
    ...(p.partialEpoch ? { partialEpoch: p.partialEpoch } : {}),
    settings: deps.dp ?? DEFAULT_DP_SETTINGS,
    onStepApplied: ({ step, epochSoFar, fenced }) => byTime(step + 1, epochSoFar, fenced),
    signal: run.signal,
    onEpoch,
    onChange: (c) => {
      run.heartbeat();
      // In the background, retried through an outage: training does not wait for the record of a change.
      publishEvent(deps.bus, 'train.group.changed', { jobId: job.jobId, ...c }, { source: p.source, retryForMs: eventPatienceMs(deps) }).catch((err: unknown) =>
        p.log.warn({ err: describeError(err) }, 'could not publish a group change'),
      );
    },
    onStep: (t) => {
      run.heartbeat();
      deps.onStepTiming?.(job.jobId, t);
    },
    ...(deps.onGradientReceipt ? { onReceipt: deps.onGradientReceipt } : {}),
    ...(deps.onFrameDropped ? { onDropped: deps.onFrameDropped } : {}),
    ...(deps.onRingFallback ? { onRingFallback: deps.onRingFallback } : {}),
  });
}

/**
 * Mid-epoch checkpoints by time: after a step, when the last checkpoint is older than
 * `checkpointEveryMs`. A fault then costs the steps since, not the epoch.
 */
function timedCheckpoints(p: PreparedJob, deps: RunnerDeps): (steps: number, epochSoFar: EpochTallyState, fenced?: () => void) => Promise<void> {
  const every = deps.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS;
  const { job, attempt } = p.run;
  return async (steps, epochSoFar, fenced) => {
    if (every <= 0 || performance.now() - p.lastCheckpointAt < every) return;
    try {
      fenced?.();
    } catch {
      return; // not now (the lease is being renewed after an outage): the next step tries again
    }
    p.run.heartbeat();
    const epoch = p.history.at(-1)?.epoch ?? 0;
    await p.checkpoints.save(job.jobId, attempt, { epoch, steps, partialEpoch: epochSoFar, history: p.history, model: await saveModelToBytes(p.model) }, fenced);
    p.lastCheckpointAt = performance.now();
    p.log.debug({ steps }, 'checkpoint by time');
  };
}

/** Checkpoint first, then report: a progress event always points at a checkpoint that exists. */
async function checkpointAndReport(p: PreparedJob, deps: RunnerDeps, m: EpochMetrics, members?: string[]): Promise<void> {
  const { job, attempt } = p.run;
  const metrics: EpochMetrics = { ...m };
  p.history.push(metrics);
  const steps = m.epoch * stepsPerEpoch(p.plan.train.count, job.hyperparams.batchSize);
  const prefix = await p.checkpoints.save(job.jobId, attempt, { epoch: m.epoch, steps, history: p.history, model: await saveModelToBytes(p.model) });
  p.lastCheckpointAt = performance.now();
  deps.onEpochMetrics?.(job.jobId, metrics);
  p.log.info({ epoch: m.epoch, loss: m.loss, valAccuracy: m.valAccuracy, samplesPerSec: m.samplesPerSec, members }, 'epoch done');
  await publishEvent(
    deps.bus,
    'train.job.progress',
    { jobId: job.jobId, replicaId: deps.replicaId, attempt, metrics, checkpointKey: prefix, ...(members ? { members } : {}) },
    { source: p.source, eventId: `train.job.progress:${job.jobId}:${m.epoch}`, retryForMs: eventPatienceMs(deps) },
  );
}

/** A resumed coordinator asks for its workers again: the old worker messages may have been used up. */
async function recallWorkers(run: RunOptions, deps: RunnerDeps): Promise<void> {
  const { job, attempt } = run;
  for (let rank = 1; rank < job.replicas; rank++) {
    await publishEvent(deps.bus, 'train.job.requested', { ...job, rank }, { source: `trainer/${deps.replicaId}`, eventId: `train.job.requested:${job.jobId}:rank${rank}:attempt${attempt}` });
  }
}
