import { HyperparamsSchema, type EpochMetrics, type Job, type ParsedRequestOf, type Sweep, type SweepTrial } from '@mlpipe/contracts';
import { ConflictError, type Logger } from '@mlpipe/common';
import { isTerminal } from '../core/jobState';
import { expandTrials, judgeTrial, pickBest, type TrialCurve } from '../core/sweep';
import { checkSweep, principalOf } from '../core/quota';
import type { Repositories } from '../adapters/repositories';
import type { TrialRow } from '../adapters/sweepRepository';
import { enforceQuota, type JobService } from './jobService';
import { newId } from './ids';

function curveOf(t: TrialRow): TrialCurve {
  // Progress may be delivered twice: the last report of an epoch counts.
  const byEpoch = new Map(t.history.map((m) => [m.epoch, m.valAccuracy ?? m.accuracy]));
  return {
    jobId: t.job.jobId,
    trial: t.trial,
    status: t.job.status,
    epochs: t.job.hyperparams.epochs,
    history: [...byEpoch].sort((a, b) => a[0] - b[0]).map(([epoch, score]) => ({ epoch, score })),
    pruned: t.prunedReason !== null,
  };
}

/** A trial's curve for display: progress may be delivered twice, the last report of an epoch counts. */
function lastPerEpoch(history: EpochMetrics[]): EpochMetrics[] {
  return [...new Map(history.map((m) => [m.epoch, m])).values()].sort((a, b) => a.epoch - b.epoch);
}

/**
 * Hyperparameter sweeps: one job per trial (spread over the trainer replicas by the shared
 * queue), early stopping of trials that fall behind, and at the end one `train.sweep.completed`
 * naming the best trial, which the registry sends through its gate.
 */
export class SweepService {
  constructor(
    private readonly repos: Pick<Repositories, 'sweeps' | 'transaction'>,
    private readonly jobs: JobService,
    private readonly logger: Logger,
  ) {}

  async submit(req: ParsedRequestOf<'orchestrator.sweeps.submit'>): Promise<Sweep> {
    const trials = expandTrials(req.sweep, HyperparamsSchema.parse(req.hyperparams));
    enforceQuota(checkSweep(this.jobs.quota, trials));
    const version = await this.jobs.trainableVersion(req.dataset, req.datasetVersion);
    const submittedBy = principalOf(req.submittedBy);
    const sweepId = newId('sweep');
    // The sweep, its trials' jobs and their queue messages commit together: no half-created sweep.
    // Every trial is a job of the principal's: all of them must fit in its quota.
    await this.repos.transaction(async (tx) => {
      await this.jobs.reserve(tx, submittedBy, trials.length);
      await tx.sweeps.create({ sweepId, modelName: req.modelName, dataset: version.dataset, datasetVersion: version.id, spec: req.sweep });
      for (const [trial, hyperparams] of trials.entries()) {
        await this.jobs.createJob(tx, {
          idempotencyKey: `sweep:${sweepId}:${trial}`,
          modelName: req.modelName,
          version,
          hyperparams,
          replicas: 1,
          trigger: { kind: 'manual', reason: `${req.reason} (sweep ${sweepId}, trial ${trial})` },
          sweep: { sweepId, trial },
          submittedBy,
        });
      }
    });
    this.logger.info({ sweepId, trials: trials.length, strategy: req.sweep.strategy }, 'sweep started');
    return this.get(sweepId);
  }

  async get(sweepId: string): Promise<Sweep> {
    const sweep = await this.repos.sweeps.get(sweepId);
    const trials = await this.repos.sweeps.trials(sweepId);
    return {
      sweepId,
      modelName: sweep.modelName,
      dataset: sweep.dataset as Sweep['dataset'],
      datasetVersion: sweep.datasetVersion,
      spec: sweep.spec,
      status: sweep.status,
      statusReason: sweep.statusReason,
      bestJobId: sweep.bestJobId,
      createdAt: sweep.createdAt.toISOString(),
      trials: trials.map((t): SweepTrial => {
        const curve = curveOf(t);
        return {
          trial: t.trial,
          jobId: t.job.jobId,
          hyperparams: t.job.hyperparams,
          status: t.job.status,
          statusReason: t.prunedReason ?? t.job.statusReason,
          valAccuracy: curve.history.at(-1)?.score ?? null,
          epochs: curve.history.length,
          pruned: curve.pruned,
          history: lastPerEpoch(t.history),
        };
      }),
    };
  }

  /** The newest sweeps, each with its trials, newest first. */
  async list(limit: number): Promise<Sweep[]> {
    return Promise.all((await this.repos.sweeps.recent(limit)).map((id) => this.get(id)));
  }

  /** A trial reported an epoch (already recorded on its job): judge it against the others. */
  async onTrialProgress(job: Job | undefined, epoch: number): Promise<void> {
    if (job?.sweep && job.status === 'running') await this.judge(job.sweep.sweepId, job.jobId, epoch);
  }

  /** A trial's job may have ended: the sweep ends with its last trial. */
  async onTrialEnded(job: Job | undefined): Promise<void> {
    if (job?.sweep && isTerminal(job.status)) await this.finishIfDone(job.sweep.sweepId);
  }

  private async judge(sweepId: string, jobId: string, epoch: number): Promise<void> {
    const sweep = await this.repos.sweeps.get(sweepId);
    const curves = (await this.repos.sweeps.trials(sweepId)).map(curveOf);
    const judged = curves.find((c) => c.jobId === jobId);
    if (!judged || judged.pruned) return;
    const verdict = judgeTrial(sweep.spec.earlyStopping, judged, curves, epoch);
    if (!verdict.prune) return;
    await this.repos.sweeps.markPruned(jobId, verdict.reason);
    this.logger.info({ sweepId, jobId, reason: verdict.reason }, 'trial pruned');
    try {
      await this.jobs.cancel(jobId, verdict.reason);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
    await this.finishIfDone(sweepId);
  }

  /**
   * Closes the sweep once every trial ended, and announces it on the same transaction. Enqueued on
   * every look after that too: the outbox keeps one row per event id, and JetStream one message.
   */
  private async finishIfDone(sweepId: string): Promise<void> {
    await this.repos.transaction(async (tx) => {
      const trials = await tx.sweeps.trials(sweepId);
      if (!trials.every((t) => isTerminal(t.job.status))) return;
      const sweep = await tx.sweeps.get(sweepId);
      const curves = trials.map(curveOf);
      const best = pickBest(curves);
      const reason = best?.reason ?? 'no trial finished unpruned';
      await tx.sweeps.finish(sweepId, best ? 'succeeded' : 'failed', reason, best?.jobId ?? null);
      await tx.enqueue(
        'train.sweep.completed',
        {
          sweepId,
          modelName: sweep.modelName,
          bestJobId: best?.jobId ?? null,
          reason,
          spec: sweep.spec,
          trials: curves.map((c) => ({ jobId: c.jobId, trial: c.trial, status: c.status, valAccuracy: c.history.at(-1)?.score ?? null, pruned: c.pruned })),
        },
        `train.sweep.completed:${sweepId}`,
      );
    });
  }
}
